"""Where the edge might be, beyond one symbol's 5-minute direction from its own bars:
several horizons judged in one run (:mod:`gafcnn.edge.horizons`), order flow and other
symbols' bars as inputs (:mod:`gafcnn.edge.inputs`), and the ranking of symbols
against each other (:mod:`gafcnn.edge.cross_section`), each with a synthetic market
that plants exactly that signal (:mod:`gafcnn.edge.synthetic`)."""
