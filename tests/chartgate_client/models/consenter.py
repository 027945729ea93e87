from enum import StrEnum

class Consenter(StrEnum):
    PATIENT = "patient"
    REPRESENTATIVE = "representative"

    def __str__(self) -> str:
        return str(self.value)
