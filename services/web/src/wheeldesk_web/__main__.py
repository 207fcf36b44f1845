"""`python -m wheeldesk_web`: serve the web app (`wheeldesk_web.server`).

The worker processes are spawned with `wheeldesk_web.server.serve_one` as their target: it lives
in an importable module, not in this `__main__`, which a spawned process cannot import by name.
"""

from wheeldesk_web.server import main

if __name__ == "__main__":
    main()
