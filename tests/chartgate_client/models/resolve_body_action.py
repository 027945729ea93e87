from enum import StrEnum

class ResolveBodyAction(StrEnum):
    LANDED = "landed"
    RESEND = "resend"
    RETRY_FOLLOW_UP = "retry-follow-up"

    def __str__(self) -> str:
        return str(self.value)
