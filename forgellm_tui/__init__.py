"""ForgeLLM TUI: continued pre-training and instruction fine-tuning with MLX, from the terminal."""

__version__ = "0.1.0"
