#!/usr/bin/env python3
"""Builds the request mix of the marketplace search benchmark as a wrk Lua table.

Usage: marketplace_queries.py BASE_URL OUT.lua [--seed N]

The mix (about 480 distinct requests) resembles a catalogue's traffic: single words, word
pairs, exact names, websearch syntax (phrases, exclusions, OR), text with filters, filters
alone, the newest listings, and second pages (their cursors fetched from BASE_URL). The words
come from the vocabulary of `marketplace seed`, so selectivity is realistic. The file also
carries word lists from which the Lua script composes long-tail queries at random.
Standard library only.
"""
import json
import random
import sys
import urllib.parse
import urllib.request

OBJECTS = """invoice contract receipt ticket email resume claim policy lead transcript log alert
incident order shipment payment refund loan mortgage patent trademark prescription expense budget
forecast inventory supplier quote proposal survey feedback complaint chat call meeting calendar
document form passport transaction ledger regulation filing lawsuit deposition tweet comment image
video podcast subtitle translation commit build deployment metric trace error vulnerability threat
sensor telemetry map route fleet vehicle warehouse product catalog price recipe menu booking
reservation itinerary flight hotel genome protein molecule dataset schema dashboard report
spreadsheet presentation slide note faq manual specification requirement bug roadmap okr candidate
interview onboarding timesheet benefit pension grant donation membership subscription campaign ad
keyword backlink influencer sentiment""".split()
ROLES = """extractor summarizer classifier router monitor screener orchestrator analyzer assistant
auditor validator translator parser scorer tagger detector reconciler scheduler planner reviewer
redactor enricher matcher deduplicator forecaster recommender generator transcriber annotator
indexer crawler watcher notifier triager approver negotiator optimizer inspector""".split()
BRANDS = """Acme Nimbus Atlas Beacon Cobalt Quartz Falcon Harbor Juniper Keystone Lumen Meridian Nova
Orbit Pioneer Quill Radiant Sable Summit Tandem Umbra Vector Willow Zephyr Aurora Basalt Cinder
Delta Ember Fjord Granite Halcyon Iris Jade Kestrel Lattice Monarch Nebula Onyx Prism""".split()
INDUSTRIES = """finance healthcare legal insurance retail logistics manufacturing energy telecom
government education media gaming travel hospitality pharma biotech automotive aerospace
agriculture security ecommerce banking accounting marketing recruiting nonprofit""".split()
TAGS = INDUSTRIES + """pdf ocr nlp llm rag vision speech gdpr hipaa soc2 pci open-source beta stable
realtime batch streaming api webhook slack salesforce sap aws gcp azure kubernetes python rust
multimodal agentic workflow automation analytics reporting search chatbot voice""".split()
TYPES = "screener classifier orchestrator extractor summarizer router monitor custom".split()
ACTIONS = "read write classify extract summarize route monitor approve".split()
SUFFIXES = ["", " Pro", " Lite", " v2", " Cloud"]
PUBLISHER_ENDINGS = "Labs Systems AI Analytics Robotics Works Dynamics Intelligence Software".split()
PATH = "/api/v1/marketplace/agents"


def path(**params):
    return PATH + ("?" + urllib.parse.urlencode(params) if params else "")


def mix(rng):
    out = []
    out += [path(q=w) for w in rng.sample(OBJECTS, 40)]
    out += [path(q=w) for w in rng.sample(ROLES, 15)]
    out += [path(q=w.lower()) for w in rng.sample(BRANDS, 10)]
    out += [path(q=f"{rng.choice(OBJECTS)} {rng.choice(ROLES)}") for _ in range(120)]
    out += [path(q=f"{rng.choice(BRANDS)} {rng.choice(OBJECTS).title()} {rng.choice(ROLES).title()}"
                 f"{rng.choice(SUFFIXES)}") for _ in range(40)]
    out += [path(q=f'"{rng.choice(OBJECTS)} {rng.choice(ROLES)}"') for _ in range(15)]
    out += [path(q=f"{rng.choice(OBJECTS)} -{rng.choice(INDUSTRIES)}") for _ in range(15)]
    out += [path(q=f"{rng.choice(OBJECTS)} or {rng.choice(OBJECTS)}") for _ in range(10)]
    out += [path(q=rng.choice(OBJECTS), agent_type=rng.choice(TYPES)) for _ in range(25)]
    out += [path(q=rng.choice(OBJECTS), tag=rng.choice(TAGS)) for _ in range(25)]
    out += [path(q=rng.choice(ROLES), capability=f"{rng.choice(OBJECTS)}:{rng.choice(ACTIONS)}")
            for _ in range(10)]
    out += [path(agent_type=t) for t in TYPES]
    out += [path(tag=t) for t in rng.sample(TAGS, 30)]
    out += [path(capability=f"{rng.choice(OBJECTS)}:{rng.choice(ACTIONS)}") for _ in range(30)]
    out += [path(publisher=f"{rng.choice(BRANDS)} {rng.choice(PUBLISHER_ENDINGS)}")
            for _ in range(30)]
    out += [path(agent_type=rng.choice(TYPES), tag=rng.choice(TAGS)) for _ in range(20)]
    out += [path(), path(limit=50), path(limit=100), path(limit=5)]
    return out


def second_pages(base, firsts):
    pages = []
    for p in firsts:
        with urllib.request.urlopen(base + p, timeout=60) as res:
            cursor = json.loads(res.read()).get("next_cursor")
        if cursor:
            sep = "&" if "?" in p else "?"
            pages.append(f"{p}{sep}cursor={urllib.parse.quote(cursor)}")
    return pages


def lua_list(items):
    return "{" + ",".join(json.dumps(i) for i in items) + "}"


def main():
    base, out = sys.argv[1].rstrip("/"), sys.argv[2]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 42
    rng = random.Random(seed)
    queries = mix(rng)
    queries += second_pages(base, rng.sample(queries, 40))
    with open(out, "w") as f:
        f.write("return {\n")
        f.write(f"  queries = {lua_list(queries)},\n")
        f.write(f"  objects = {lua_list(OBJECTS)},\n")
        f.write(f"  roles = {lua_list(ROLES)},\n")
        f.write(f"  brands = {lua_list([b.lower() for b in BRANDS])},\n")
        f.write("}\n")
    print(f"{len(queries)} distinct requests", file=sys.stderr)


if __name__ == "__main__":
    main()
