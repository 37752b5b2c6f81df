//! Vocabulary of synthetic listings: brands, business objects, roles, industries, systems
//! and tags, sized so that search selectivity resembles a real catalogue (a business object
//! matches about 1% of listings, a brand or a role 1–3%, two words together a few hundred).

/// Name prefixes (and publisher names).
#[rustfmt::skip]
pub const BRANDS: &[&str] = &[
    "Acme", "Nimbus", "Atlas", "Beacon", "Cobalt", "Quartz", "Falcon", "Harbor", "Juniper",
    "Keystone", "Lumen", "Meridian", "Nova", "Orbit", "Pioneer", "Quill", "Radiant", "Sable",
    "Summit", "Tandem", "Umbra", "Vector", "Willow", "Zephyr", "Aurora", "Basalt", "Cinder",
    "Delta", "Ember", "Fjord", "Granite", "Halcyon", "Iris", "Jade", "Kestrel", "Lattice",
    "Monarch", "Nebula", "Onyx", "Prism", "Quasar", "Ridge", "Sierra", "Tundra", "Vertex", "Wren",
    "Yonder", "Zenith", "Amber", "Birch", "Cedar", "Dune", "Echo", "Fern", "Glacier", "Heron",
    "Indigo", "Jasper", "Kite", "Lark", "Maple", "Nectar", "Oak", "Pine", "Quest", "Raven", "Sage",
    "Thistle", "Upland", "Vale", "Wisp", "Alder", "Brook", "Cove", "Drift", "Elm", "Flint", "Grove",
    "Hollow", "Isle", "Knoll", "Loch", "Moss", "North", "Opal", "Peak", "Reef", "Shore", "Tide",
    "Vista", "Arc", "Bolt", "Core", "Dash", "Edge", "Flux", "Grid", "Hive", "Ion", "Jet",
];

/// Business objects an agent works on (also capability resources).
#[rustfmt::skip]
pub const OBJECTS: &[&str] = &[
    "invoice", "contract", "receipt", "ticket", "email", "resume", "claim", "policy", "lead",
    "transcript", "log", "alert", "incident", "order", "shipment", "payment", "refund", "loan",
    "mortgage", "patent", "trademark", "prescription", "lab-result", "radiology-image",
    "insurance-quote", "tax-return", "payslip", "expense", "budget", "forecast", "inventory",
    "supplier", "purchase-order", "quote", "proposal", "survey", "product-review", "feedback",
    "complaint", "chat", "call", "meeting", "calendar", "document", "form", "passport",
    "identity-check", "transaction", "ledger", "audit-trail", "regulation", "filing", "lawsuit",
    "deposition", "court-record", "news-article", "tweet", "blog-post", "comment", "image", "video",
    "podcast", "subtitle", "translation", "source-code", "pull-request", "commit", "build",
    "deployment", "metric", "trace", "error", "crash-report", "vulnerability", "threat",
    "phishing-email", "malware-sample", "firewall-rule", "network-flow", "sensor", "telemetry",
    "energy-reading", "weather-report", "satellite-image", "map", "route", "fleet", "vehicle",
    "warehouse", "product", "catalog", "price", "recipe", "menu", "booking", "reservation",
    "itinerary", "flight", "hotel", "patient-record", "clinical-trial", "genome", "protein",
    "molecule", "dataset", "schema", "sql-query", "dashboard", "report", "spreadsheet",
    "presentation", "slide", "note", "wiki-page", "knowledge-base", "faq", "manual",
    "specification", "requirement", "test-case", "bug", "roadmap", "okr", "job-post", "candidate",
    "interview", "onboarding", "timesheet", "leave-request", "benefit", "pension", "grant",
    "donation", "membership", "subscription", "churn-signal", "campaign", "ad", "keyword",
    "backlink", "social-post", "influencer", "brand-mention", "sentiment",
];

/// Roles: the noun in names, the verb in descriptions, and the agent type it suggests.
pub const ROLES: &[(&str, &str, &str)] = &[
    ("extractor", "extracts fields from", "extractor"),
    ("summarizer", "summarizes", "summarizer"),
    ("classifier", "classifies", "classifier"),
    ("router", "routes", "router"),
    ("monitor", "monitors", "monitor"),
    ("screener", "screens", "screener"),
    (
        "orchestrator",
        "coordinates the handling of",
        "orchestrator",
    ),
    ("analyzer", "analyzes", "custom"),
    ("assistant", "helps people work through", "custom"),
    ("auditor", "audits", "screener"),
    ("validator", "validates", "screener"),
    ("translator", "translates", "custom"),
    ("parser", "parses", "extractor"),
    ("scorer", "scores", "classifier"),
    ("tagger", "tags", "classifier"),
    ("detector", "detects anomalies in", "monitor"),
    ("reconciler", "reconciles", "custom"),
    ("scheduler", "schedules", "orchestrator"),
    ("planner", "plans around", "orchestrator"),
    ("reviewer", "reviews", "screener"),
    ("redactor", "redacts personal data in", "custom"),
    ("enricher", "enriches", "custom"),
    ("matcher", "matches", "custom"),
    ("deduplicator", "deduplicates", "custom"),
    ("forecaster", "forecasts from", "custom"),
    ("recommender", "recommends", "custom"),
    ("generator", "drafts", "custom"),
    ("transcriber", "transcribes", "extractor"),
    ("annotator", "annotates", "classifier"),
    ("indexer", "indexes", "custom"),
    ("crawler", "collects", "custom"),
    ("watcher", "watches", "monitor"),
    ("notifier", "sends alerts about", "monitor"),
    ("triager", "triages", "router"),
    ("approver", "approves", "screener"),
    ("negotiator", "negotiates", "custom"),
    ("optimizer", "optimizes", "custom"),
    ("inspector", "inspects", "screener"),
];

/// Name suffixes.
#[rustfmt::skip]
pub const SUFFIXES: &[&str] = &[
    "", "", "", "", "", " Pro", " Lite", " Plus", " v2", " v3", " Enterprise", " Express", " Cloud",
    " Edge", " Mini",
];

/// Publisher name endings.
#[rustfmt::skip]
pub const PUBLISHER_ENDINGS: &[&str] = &[
    "Labs", "Systems", "AI", "Analytics", "Robotics", "Works", "Dynamics", "Intelligence",
    "Software", "Technologies", "Solutions", "Networks", "Data", "Cloud", "Digital", "Partners",
    "Group", "Studio", "Foundry", "Collective",
];

/// Publisher regions.
pub const REGIONS: &[&str] = &["", "", "", "EU", "US", "APAC", "Nordics", "LatAm", "UK"];

/// Where input comes from.
#[rustfmt::skip]
pub const SOURCES: &[&str] = &[
    "PDFs", "scanned images", "email inboxes", "web pages", "spreadsheets", "chat logs", "APIs",
    "databases", "cloud storage", "CRM records", "support queues", "call recordings",
];

/// Where results go.
#[rustfmt::skip]
pub const TARGETS: &[&str] = &[
    "structured JSON", "clean CSV exports", "the data warehouse", "Slack alerts",
    "a searchable index", "weekly digests", "audit-ready reports", "ERP entries", "dashboards",
    "ticket queues",
];

/// Industries (also tags).
#[rustfmt::skip]
pub const INDUSTRIES: &[&str] = &[
    "finance", "healthcare", "legal", "insurance", "retail", "logistics", "manufacturing", "energy",
    "telecom", "government", "education", "media", "gaming", "travel", "real-estate", "hospitality",
    "pharma", "biotech", "automotive", "aerospace", "agriculture", "security", "ecommerce",
    "banking", "accounting", "marketing", "recruiting", "nonprofit",
];

/// What buyers care about.
#[rustfmt::skip]
pub const QUALITIES: &[&str] = &[
    "high accuracy", "low latency", "strict compliance", "multilingual support", "human review",
    "explainable decisions", "on-premise deployment", "real-time throughput", "cost control",
    "end-to-end encryption",
];

/// Systems agents integrate with.
#[rustfmt::skip]
pub const SYSTEMS: &[&str] = &[
    "Salesforce", "SAP", "Zendesk", "Jira", "ServiceNow", "Slack", "Microsoft Teams",
    "Google Drive", "SharePoint", "Snowflake", "BigQuery", "Postgres", "S3", "Workday", "NetSuite",
    "HubSpot", "Stripe", "GitHub", "Datadog", "Splunk",
];

/// Capability actions.
#[rustfmt::skip]
pub const ACTIONS: &[&str] = &[
    "read", "write", "classify", "extract", "summarize", "route", "monitor", "approve",
];

/// Tags besides the industries.
#[rustfmt::skip]
pub const TAGS: &[&str] = &[
    "english", "german", "french", "spanish", "italian", "portuguese", "dutch", "japanese",
    "chinese", "korean", "arabic", "hindi", "pdf", "ocr", "nlp", "llm", "rag", "vision", "speech",
    "gdpr", "hipaa", "soc2", "pci", "iso27001", "open-source", "beta", "stable", "realtime",
    "batch", "streaming", "api", "webhook", "slack", "teams", "salesforce", "sap", "aws", "gcp",
    "azure", "kubernetes", "serverless", "onprem", "low-code", "no-code", "python", "rust", "java",
    "typescript", "fast", "accurate", "secure", "private", "multimodal", "agentic", "workflow",
    "automation", "analytics", "reporting", "search", "chatbot", "voice", "document-ai",
    "data-quality", "observability", "devops", "secops", "finops", "mlops",
];
