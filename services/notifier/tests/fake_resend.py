"""The fake Resend server lives in `wheeldesk_testing.fake_resend` so web and e2e tests share it."""

from wheeldesk_testing.fake_resend import FakeEmail, FakeRequest, FakeResend

__all__ = ["FakeEmail", "FakeRequest", "FakeResend"]
