"""Perceiver, Perceiver IO and Perceiver AR in PyTorch."""

__version__ = "0.12.0"
