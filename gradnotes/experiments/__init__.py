"""Small trainings on real data (scikit-learn's digits): stacked MLPs, the shared BatchNorm runs, BN folding and the
``bench-norm`` measurement."""
