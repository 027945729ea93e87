from enum import StrEnum

class RetractBodyReason(StrEnum):
    CLINICAL_ERROR = "clinical-error"
    DUPLICATE = "duplicate"
    OTHER = "other"
    WRONG_ENCOUNTER = "wrong-encounter"
    WRONG_PATIENT = "wrong-patient"

    def __str__(self) -> str:
        return str(self.value)
