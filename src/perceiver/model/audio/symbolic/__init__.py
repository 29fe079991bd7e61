from perceiver.model.audio.symbolic.backend import SymbolicAudioModel, SymbolicAudioModelConfig

__all__ = ["SymbolicAudioModel", "SymbolicAudioModelConfig"]
