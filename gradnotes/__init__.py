"""gradnotes: simulate vanishing and exploding gradients with torch, and draw what happens."""

__version__ = "0.1.0"
