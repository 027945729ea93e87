from enum import StrEnum

class ConsentMethod(StrEnum):
    PORTAL = "portal"
    VERBAL = "verbal"
    WRITTEN = "written"

    def __str__(self) -> str:
        return str(self.value)
