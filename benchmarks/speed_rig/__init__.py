"""Speed-accuracy rig: synthetic scenes with exact truth, made from real material.

A real background (the temporal median of a shared video), real vehicle crops from the
shared labelled images, moved along road-plane trajectories at known speeds and rendered
through a known camera with motion blur and noise; the edge path then measures them.
"""
