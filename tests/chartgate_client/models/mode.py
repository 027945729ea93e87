from enum import StrEnum

class Mode(StrEnum):
    FREEZE_APPROVALS = "freeze-approvals"
    HOLD_WRITE_BACK = "hold-write-back"
    STOP_DRAFTING = "stop-drafting"

    def __str__(self) -> str:
        return str(self.value)
