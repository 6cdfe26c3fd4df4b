"""The host state table: what the host files beside a capture say about its node.

Built by :mod:`pcapkit.ingest` from Retina's metadata (``proc-sys-net/``,
``proc-net/stat/nf_conntrack``, ``iptables-rules.txt``), inside its tarball or unpacked;
:func:`pcapkit.ingest.corroborate.corroborate` quotes it in findings. Empty when the
captures came without host files.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, register

#: values of ``kind``
HOST_KINDS = ("sysctl", "conntrack_stat", "rule", "chain_policy")

HOST_STATE = register(Table("host_state", "one setting or counter of one node's host files", (
    Column("node", "category",
           "Node the files were taken on: the node of the capture beside them (NA when no "
           "capture of theirs was read)."),
    Column("archive", "str",
           "Where the files are: the Retina tarball (archive!directory when not at its top) "
           "or the directory they were unpacked into."),
    Column("source", "str",
           "The host file, relative to that place: proc-sys-net/ipv4/conf/all/rp_filter, "
           "proc-net/stat/nf_conntrack, iptables-rules.txt."),
    Column("kind", "category",
           "sysctl (a kernel setting), conntrack_stat (a conntrack counter summed over CPUs),"
           " rule (an iptables rule and its packet counter) or chain_policy (a chain's "
           "policy and its counter)."),
    Column("key", "str",
           "The setting as sysctl -a names it (net.ipv4.conf.all.rp_filter), the counter "
           "(conntrack.insert_failed, conntrack.entries), or table/chain/target of a rule "
           "or policy (filter/FORWARD/DROP)."),
    Column("value", "str",
           "The value as written; for a rule 'target prot in out source destination "
           "[matches]' as iptables -vnx -L prints it ('-' for no target)."),
    Column("number", "i64",
           "The value as a number where it is one: the setting, the counter, the packets a "
           "rule or policy counted."),
)))
