"""NetworkPolicy evaluation: compiled policies (``model``, label ``selectors``), the two ends
of a connection (``endpoints``), one direction decided (``direction``), the answer
(``verdict``), CNI policy kinds counted but not evaluated (``other_kinds``), the engine over
them (``engine``), and user input ("ns/pod", names, IPs, Services) turned into engine input
(``explain``)."""
