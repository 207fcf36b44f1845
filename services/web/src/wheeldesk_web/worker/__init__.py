"""The background worker (`manage.py worker`): scans, alerts, digests, order and ledger syncs on a
schedule. It sits on top of the web's app graph: it drives the domain apps, none imports it."""
