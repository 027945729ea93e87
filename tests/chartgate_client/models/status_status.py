from enum import StrEnum

class StatusStatus(StrEnum):
    OK = "ok"
    READY = "ready"
    UNAVAILABLE = "unavailable"

    def __str__(self) -> str:
        return str(self.value)
