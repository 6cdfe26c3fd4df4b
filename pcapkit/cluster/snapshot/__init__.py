"""Reading cluster exports: files to objects by kind (``exports``), one point in time with
its objects (``snapshot``), structural checks that skip damaged objects (``validate``), and
Kubernetes timestamps as integer nanoseconds (``times``)."""
