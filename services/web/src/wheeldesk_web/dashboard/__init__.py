"""The dashboard and home pages: the top of the web's app graph (it imports domain apps, none imports it)."""
