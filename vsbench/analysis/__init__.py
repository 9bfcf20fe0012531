"""Analysis of a run's archive: the cost model (:mod:`vsbench.analysis.cost`) and its figures."""
