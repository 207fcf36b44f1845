"""The locust users of `bench/web.py` (run by it as `locust -f bench/_web_locust.py --headless`).

Each user is a logged-in browser tab that asks for one page again and again with no think
time (back-to-back), each on its own session and keep-alive connection. The sessions were
created by bench/web.py (BENCH_SESSIONS, comma-separated session keys of the tws-sim
account's user): logging a hundred users in through the password form would spend the run
on PBKDF2 instead of on the page. A response is an error unless it is a 200 holding the
page's content (BENCH_EXPECT, and BENCH_EXPECT_COUNT occurrences of it when set).
"""

from __future__ import annotations

import itertools
import os

from locust import FastHttpUser, constant, task

SESSIONS = itertools.cycle(os.environ["BENCH_SESSIONS"].split(","))
PATH = os.environ["BENCH_PATH"]
EXPECT = os.environ["BENCH_EXPECT"]
EXPECT_COUNT = int(os.environ.get("BENCH_EXPECT_COUNT", "1"))
COOKIE_NAME = os.environ.get("BENCH_COOKIE", "sessionid")


class PageUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.headers = {"Cookie": f"{COOKIE_NAME}={next(SESSIONS)}"}

    @task
    def page(self) -> None:
        with self.client.get(PATH, headers=self.headers, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            elif (response.text or "").count(EXPECT) < EXPECT_COUNT:
                response.failure(f"{EXPECT!r} not {EXPECT_COUNT}x in the page")
