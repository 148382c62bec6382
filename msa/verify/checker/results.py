"""One line per check: PASS, FAIL or SKIP, the check, its subject and what was seen."""

from __future__ import annotations

from dataclasses import dataclass

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass(frozen=True)
class Result:
    status: str
    check: str
    subject: str
    detail: str

    def line(self) -> str:
        return f"{self.status}  {self.check:<8} {self.subject:<28} {self.detail}"


def passed(check: str, subject: str, detail: str) -> Result:
    return Result(PASS, check, subject, detail)


def failed(check: str, subject: str, detail: str) -> Result:
    return Result(FAIL, check, subject, detail)


def skipped(check: str, subject: str, detail: str) -> Result:
    return Result(SKIP, check, subject, detail)
