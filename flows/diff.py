"""What changed between two flow documents, by stable node and edge id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _by_id(items: object) -> dict[str, Mapping[str, Any]]:
    if not isinstance(items, list):
        return {}
    return {item["id"]: item for item in items if isinstance(item, Mapping) and "id" in item}


def _edge_key(edge: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return edge.get("source"), edge.get("sourceHandle"), edge.get("target")


def document_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Nodes and edges added, removed and changed from `before` to `after`.

    A node "changed" when its type or data did; one that only moved on the canvas is listed
    under "moved", so a reader sees real changes first. An edge changed when it connects
    something else.
    """
    old_nodes, new_nodes = _by_id(before.get("nodes")), _by_id(after.get("nodes"))
    old_edges, new_edges = _by_id(before.get("edges")), _by_id(after.get("edges"))
    changed, moved = [], []
    for node_id in sorted(old_nodes.keys() & new_nodes.keys()):
        old, new = old_nodes[node_id], new_nodes[node_id]
        fields = [key for key in ("type", "data") if old.get(key) != new.get(key)]
        if fields:
            changed.append({"id": node_id, "fields": fields, "before": old, "after": new})
        elif old.get("position") != new.get("position"):
            moved.append(node_id)
    return {
        "nodes": {
            "added": [new_nodes[i] for i in sorted(new_nodes.keys() - old_nodes.keys())],
            "removed": [old_nodes[i] for i in sorted(old_nodes.keys() - new_nodes.keys())],
            "changed": changed,
            "moved": moved,
        },
        "edges": {
            "added": [new_edges[i] for i in sorted(new_edges.keys() - old_edges.keys())],
            "removed": [old_edges[i] for i in sorted(old_edges.keys() - new_edges.keys())],
            "changed": [
                {"id": edge_id, "before": old_edges[edge_id], "after": new_edges[edge_id]}
                for edge_id in sorted(old_edges.keys() & new_edges.keys())
                if _edge_key(old_edges[edge_id]) != _edge_key(new_edges[edge_id])
            ],
        },
    }
