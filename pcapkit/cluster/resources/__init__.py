"""Kubernetes objects across snapshots, as records: pods with their lifetimes (``pods``) and
owning workloads (``workloads``), Services and their backends (``services``), node addresses
and pod ranges with what the CNI adds (``nodes``), Multus secondary networks (``multus``) and
Istio data-plane modes (``istio``)."""
