"""plot_dns, plot_graph and plot_traffic on the demo incident (the series, edges and
spans its tables say), on an empty capture (a figure saying so), and every figure saved
as PNG and SVG and shown in IPython (``_repr_png_``)."""

from __future__ import annotations

import numpy as np
import pytest
from demo_cases import DEMO, ROOT, flow_of, only
from matplotlib.patches import FancyArrowPatch

import pcapkit
from pcapkit.errors import PcapkitError
from pcapkit.plots import ladder, plot_dns, plot_graph, plot_traffic
from pcapkit.plots.traffic import node_pairs
from pcapkit.report.graph import talk_graph
from pcapkit.report.svg import FAIL, OK

PNG = b"\x89PNG\r\n\x1a\n"
DNS_FIXTURES = ROOT / "fixtures" / "dns"


def legend(figure) -> list[str]:
    return [t.get_text() for t in figure.legends[0].get_texts()]


def test_plot_dns_has_a_series_per_server_and_marks_timeouts_and_retries(demo) -> None:
    figure = plot_dns(demo)
    texts = legend(figure)
    dns = demo.dns
    n = len(dns)
    assert f"10.96.0.10 kube-system/kube-dns → 10.244.2.20 {dns['backend_pod'].iloc[0]}: " \
           f"{n} queries" in texts
    unanswered = int(dns["status"].isin(["unanswered", "unanswered_at_capture_end"]).sum())
    retries = int((dns["attempt"] > 1).sum())
    assert unanswered == 4 and retries == 2     # A and AAAA of inventory.legacy, sent twice
    assert f"no answer ({unanswered}): in the top strip" in texts
    assert f"retry ({retries}): attempt 2 or later" in texts
    strip, main = figure.axes
    crosses = [c for c in strip.collections if c.get_label().startswith("no answer")]
    assert len(crosses) == 1 and len(crosses[0].get_offsets()) == unanswered
    answered = dns["latency_s"].notna()
    points = [c for c in main.collections if c.get_label().startswith("10.96.0.10")]
    latencies = np.sort(points[0].get_offsets()[:, 1])
    assert np.allclose(latencies, np.sort(dns.loc[answered, "latency_s"].to_numpy() * 1e3))
    assert main.get_yscale() == "log"
    assert f"{n} transactions, {unanswered} without a usable answer" in strip.get_title()


def test_plot_dns_squares_error_answers_and_names_servers_without_a_cluster() -> None:
    capture = pcapkit.open([DNS_FIXTURES, DEMO])      # no snapshot: addresses only
    dns = capture.dns
    figure = plot_dns(capture)
    texts = legend(figure)
    per_server = dns.groupby(["resp_h", "backend_ip"], dropna=False, observed=True).size()
    for (server, backend), n in per_server.items():
        name = f"{server} → {backend}" if isinstance(backend, str) and backend != server \
            else str(server)
        assert f"{name}: {n} queries" in texts
    errors = dns["status"].isin(["servfail", "refused", "other_error", "truncated"])
    assert errors.sum() == 6
    squares = sum(len(c.get_offsets()) for c in figure.axes[1].collections
                  if c.get_label() == "_error")
    assert squares == int((errors & (dns["latency_s"] > 0)).sum()) > 0
    assert f"error answer ({int(errors.sum())}): SERVFAIL, REFUSED, other, TC" in texts


def test_plot_dns_leaves_out_what_did_not_happen() -> None:
    capture = pcapkit.open(DNS_FIXTURES / "slow-answer.pcap")
    texts = legend(plot_dns(capture))
    assert not (capture.dns["attempt"] > 1).any() and capture.dns["status"].eq("answered").all()
    assert not any(t.startswith(("retry", "no answer", "error answer")) for t in texts)
    assert texts == [f"{capture.dns['resp_h'].iloc[0]}: 2 queries"]


def test_plot_graph_draws_the_reports_edges_with_the_failing_ones_red(demo,
                                                                     demo_findings) -> None:
    figure = plot_graph(demo, findings=demo_findings)
    graph = talk_graph(demo.flows, demo.table("connection_attempts"),
                       [f.to_dict() for f in demo_findings])
    ax = figure.axes[0]
    patches = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(patches) == len(graph["edges"]) == 8
    red = [p for p in patches if p.get_edgecolor()[:3] == pytest.approx(_rgb(FAIL))]
    grey = [p for p in patches if p.get_edgecolor()[:3] == pytest.approx(_rgb(OK))]
    failing = [e for e in graph["edges"] if e["failing"]]
    assert len(red) == len(failing) == 3 and len(grey) == 5
    names = {t.get_text() for t in ax.texts}
    assert {"Deployment shop/frontend", "Deployment shop/db", "Deployment shop/payments",
            "kube-system/kube-dns"} <= names
    assert {"tcp, 5432 · 1 finding(s)", "tcp, 8080 · 1 finding(s)",
            "udp, 53 · 2 finding(s)"} <= names
    assert {"pod", "service"} <= set(legend(figure))
    assert "8 conversation pair(s), 3 failing" in ax.get_title()
    # without findings the unanswered attempts (frontend -> db) still fail their edge
    bare = talk_graph(demo.flows, demo.table("connection_attempts"), [])
    plain = plot_graph(demo, findings=[])
    red = [p for p in plain.axes[0].patches if p.get_edgecolor()[:3] == pytest.approx(_rgb(FAIL))]
    assert len(red) == bare["failing_total"] == 1
    assert [(e["src"], e["dst"]) for e in bare["edges"] if e["failing"]] == \
        [("Deployment shop/frontend", "Deployment shop/db")]
    # by default the capture's own findings (Capture.findings) mark their edges
    own = plot_graph(demo)
    assert len([p for p in own.axes[0].patches
                if p.get_edgecolor()[:3] == pytest.approx(_rgb(FAIL))]) == 3


def test_plot_traffic_counts_every_packet_once_per_node_pair(demo, demo_findings) -> None:
    pairs = node_pairs(demo)
    assert len(pairs) == demo.distinct["packet_id"].nunique() == pairs["packet_id"].nunique()
    counts = pairs.groupby(["src_node", "dst_node"]).size()
    figure = plot_traffic(demo, findings=demo_findings)
    texts = legend(figure)
    for (src, dst), n in counts.items():
        name = f"{src} → {dst}" if src != dst else f"{src} (on the node only)"
        assert f"{name}: {n:,} packets" in texts
    drawn = sum(float(np.nansum(s.get_data().values)) for s in figure.axes[0].patches
                if type(s).__name__ == "StepPatch")
    assert drawn == len(pairs)
    dated = [f for f in demo_findings if f.first_seen]
    assert sum(t.split(" ", 1)[0].isdigit() for t in texts) == len(dated) == 4
    assert "4 finding(s) shaded" in figure.axes[0].get_title()
    assert "4 finding(s) shaded" in plot_traffic(demo).axes[0].get_title()   # its own
    by_bytes = plot_traffic(demo, "bytes", findings=[])
    assert "shaded" not in by_bytes.axes[0].get_title()
    total = int(pairs["bytes"].sum())
    assert sum(int(t.rsplit(": ", 1)[1].split()[0].replace(",", "")) for t in legend(by_bytes)
               ) == total
    with pytest.raises(PcapkitError, match="by must be one of packets, bytes"):
        plot_traffic(demo, "flows")


def test_the_asymmetric_replies_go_node2_to_node1_bare(demo, demo_findings) -> None:
    """Tunnelled SYNs are node1 -> node2 by their outer addresses; the bare SYN-ACKs by
    the nodes that saw them first and last."""
    flow = flow_of(demo, only(demo_findings, "Asymmetric route"))
    ids = demo.distinct.loc[demo.distinct["flow_id"] == flow, ["packet_id", "tcp_flags"]]
    pairs = node_pairs(demo).merge(ids, on="packet_id")
    syn = pairs[pairs["tcp_flags"] == 0x02]
    synack = pairs[pairs["tcp_flags"] == 0x12]
    assert len(syn) == 3 and len(synack) == 4
    assert set(zip(syn["src_node"], syn["dst_node"], strict=True)) == {("node1", "node2")}
    assert set(zip(synack["src_node"], synack["dst_node"], strict=True)) == {("node2", "node1")}


def test_an_empty_capture_gives_figures_that_say_so(empty) -> None:
    for draw, words in ((plot_dns, "no DNS transactions"), (plot_graph, "no conversations"),
                        (plot_traffic, "no packets")):
        figure = draw(empty)
        assert not figure.axes
        assert any(words in t.get_text() for t in figure.texts), draw.__name__


@pytest.mark.parametrize("draw", ["ladder", "plot_dns", "plot_graph", "plot_traffic"])
def test_every_figure_saves_as_png_and_svg_and_shows_in_ipython(draw, demo, demo_findings,
                                                                 tmp_path) -> None:
    if draw == "ladder":
        figure = ladder(demo, flow_of(demo, only(demo_findings, "Asymmetric route")))
    elif draw == "plot_dns":
        figure = plot_dns(demo)
    else:
        figure = {"plot_graph": plot_graph, "plot_traffic": plot_traffic}[draw](
            demo, findings=demo_findings)
    figure.savefig(tmp_path / "f.png")
    figure.savefig(tmp_path / "f.svg")
    assert (tmp_path / "f.png").read_bytes().startswith(PNG)
    svg = (tmp_path / "f.svg").read_text()
    assert "<svg" in svg and "</svg>" in svg
    assert figure._repr_png_().startswith(PNG)


def _rgb(color: str) -> tuple[float, float, float]:
    return tuple(int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
