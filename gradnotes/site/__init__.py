"""The site builder: the figure gallery, the notebooks, the figure style and labels, and the list/build/clean CLI."""
