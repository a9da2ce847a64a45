#!/usr/bin/env python3
"""A rules.json written by `xlens rules` against docs/rules.schema.json, and the schema's own teeth.

    check_rules_schema.py --rules FILE --schema SCHEMA

Validates FILE with jsonschema's Draft202012Validator (the schema is checked against its
metaschema first) and prints every violation with its path; then prints the number of rules per
kind. Two things the schema cannot express are checked here: ids count 0, 1, 2, ... in order, and
token ids, layers and neurons lie below model.d_vocab, n_layers and d_mlp.

A schema that accepts everything would pass any file, so the schema is then shown to have teeth:
a handful of small in-memory mutations of the document (a rule missing a required field, a token
id as a string, a negative token id, kind "bogus", a neuron rule with layer null, a prior rule
with a trigger, a direct rule with two triggers, an unknown top-level key, a fidelity row with
top1 = 1.5) must each be rejected. Exit 0 only if the file passes and every mutation is rejected;
1 otherwise (the accepted mutations are named).
"""
import argparse
import copy
import json
import sys
from collections import Counter

from jsonschema import Draft202012Validator


def with_rule(doc, kind, change):
    """A shallow copy of doc whose first rule of this kind is a changed deep copy."""
    i = next(i for i, r in enumerate(doc["rules"]) if r["kind"] == kind)
    out = dict(doc)
    out["rules"] = list(doc["rules"])
    out["rules"][i] = rule = copy.deepcopy(doc["rules"][i])
    change(rule)
    return out


def with_top1(doc, value):
    out = dict(doc)
    row = {"predictor": "mutation", "positions": 1, "top1": value, "top5": 0.5, "kl": 0.1}
    out["fidelity"] = copy.deepcopy(doc["fidelity"]) or {"against": "m", "held_out_windows": 1, "rows": []}
    out["fidelity"]["rows"] = (out["fidelity"]["rows"] or [row])[:1]
    out["fidelity"]["rows"][0]["top1"] = value
    return out


MUTATIONS = {
    "neuron rule without 'typical_activation'": lambda d: with_rule(d, "neuron", lambda r: r.pop("typical_activation")),
    "trigger without 'scaled_activation'": lambda d: with_rule(d, "neuron", lambda r: r["triggers"][0].pop("scaled_activation")),
    "promoted token id as a string": lambda d: with_rule(d, "neuron", lambda r: r["promoted"][0].update(token=str(r["promoted"][0]["token"]))),
    "negative trigger token id": lambda d: with_rule(d, "neuron", lambda r: r["triggers"][0]["tokens"].__setitem__(0, -1)),
    "kind 'bogus'": lambda d: with_rule(d, "neuron", lambda r: r.update(kind="bogus")),
    "neuron rule with layer null": lambda d: with_rule(d, "neuron", lambda r: r.update(layer=None)),
    "prior rule with a trigger": lambda d: with_rule(d, "prior", lambda r: r["triggers"].append(
        {"tokens": [0], "text": "x", "activation": 1.0, "scaled_activation": 1.0, "count": 0})),
    "direct rule with two triggers": lambda d: with_rule(d, "direct", lambda r: r["triggers"].append(dict(r["triggers"][0]))),
    "unknown top-level key": lambda d: {**d, "extra": 1},
    "fidelity row top1 = 1.5": lambda d: with_top1(d, 1.5),
}


def beyond_schema(doc):
    """Failures the schema cannot see: id order and ids against the model's sizes."""
    m, bad = doc["model"], []
    for i, r in enumerate(doc["rules"]):
        p = f"rules[{i}]"
        if r["id"] != i:
            bad.append(f"{p}.id = {r['id']}, expected {i}")
        if r["kind"] == "neuron" and not (r["layer"] < m["n_layers"] and r["neuron"] < m["d_mlp"]):
            bad.append(f"{p}: layer {r['layer']} neuron {r['neuron']} outside {m['n_layers']} x {m['d_mlp']}")
        tokens = [t for tr in r["triggers"] for t in tr["tokens"]] + [b["token"] for b in r["promoted"] + r["suppressed"]]
        if any(t >= m["d_vocab"] for t in tokens):
            bad.append(f"{p}: token id {max(tokens)} >= d_vocab {m['d_vocab']}")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", required=True, help="rules.json written by `xlens rules`")
    ap.add_argument("--schema", required=True, help="docs/rules.schema.json")
    a = ap.parse_args()
    schema = json.load(open(a.schema, encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    doc = json.load(open(a.rules, encoding="utf-8"))

    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors[:20]:
        print(f"  FAIL {e.json_path}: {e.message[:200]}")
    if len(errors) > 20:
        print(f"  ... {len(errors) - 20} more violations")
    if errors:
        print(f"FAIL: {a.rules} violates the schema ({len(errors)} violations)")
        return 1
    kinds = Counter(r["kind"] for r in doc["rules"])
    print(f"{a.rules}: {len(doc['rules'])} rules: " + ", ".join(f"{k} {kinds[k]}" for k in ("prior", "direct", "neuron")))
    bad = beyond_schema(doc)
    for b in bad[:20]:
        print(f"  FAIL {b}")
    if bad:
        print(f"FAIL: {len(bad)} problems the schema cannot express")
        return 1
    print("PASS: the file validates")

    accepted = []
    for name, mutate in MUTATIONS.items():
        rejected = not validator.is_valid(mutate(doc))
        print(f"  mutation {name}: {'rejected' if rejected else 'ACCEPTED'}")
        if not rejected:
            accepted.append(name)
    if accepted:
        print(f"FAIL: the schema accepted {len(accepted)} broken documents: {', '.join(accepted)}")
        return 1
    print(f"PASS: all {len(MUTATIONS)} mutations rejected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
