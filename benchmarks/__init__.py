"""Speed and accuracy measurements of the real-time path."""
