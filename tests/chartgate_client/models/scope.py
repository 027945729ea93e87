from enum import StrEnum

class Scope(StrEnum):
    EHR = "ehr"
    GLOBAL = "global"
    MODEL_VERSION = "model-version"
    NOTE_TYPE = "note-type"
    PROMPT_TEMPLATE = "prompt-template"
    RESOURCE_TYPE = "resource-type"
    TENANT = "tenant"

    def __str__(self) -> str:
        return str(self.value)
