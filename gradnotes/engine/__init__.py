"""The engine: networks at initialisation simulated with torch (spec, nets, sim), their mean-field theory, the result
cache and the benchmark. Imports neither matplotlib nor mkdocs; theory imports no simulator."""
