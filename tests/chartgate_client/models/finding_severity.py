from enum import StrEnum

class FindingSeverity(StrEnum):
    ERROR = "error"
    INFORMATION = "information"
    WARNING = "warning"

    def __str__(self) -> str:
        return str(self.value)
