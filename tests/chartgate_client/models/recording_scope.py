from enum import StrEnum

class RecordingScope(StrEnum):
    AI_DOCUMENTATION = "ai-documentation"
    AUDIO_RECORDING = "audio-recording"
    TRANSCRIPTION = "transcription"

    def __str__(self) -> str:
        return str(self.value)
