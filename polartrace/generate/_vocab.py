"""The generator's vocabulary: questions, answers, documents, names and weights.

Kept apart from the stages of `polartrace.generate` so that their logic reads on its
own. Blocks are parsed at import: entries are separated by blank lines, each
unindented line is a field, and an indented line continues the field above it.
"""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------------------
# Vocabulary. Blocks are parsed at import: entries are separated by blank lines, each
# unindented line is a field, an indented line continues the field above it.
# --------------------------------------------------------------------------------------


def _lines(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for line in text.strip().splitlines():
        if line.startswith("  "):
            out[-1] += " " + line.strip()
        else:
            out.append(line.strip())
    return tuple(out)


def _entries(text: str) -> tuple[tuple[str, ...], ...]:
    return tuple(_lines(block) for block in text.strip().split("\n\n"))


# Slot values for the templates below; "{tool2}" asks for a second, different "tool".
_VOCAB: Final = {
    name: tuple(v.strip() for v in values.split("|"))
    for name, _, values in (
        line.partition(": ")
        for line in _lines("""
product: laptop|noise-cancelling headphones|phone case|smartwatch|coffee maker
  |running shoes|backpack|4K monitor|mechanical keyboard|desk chair|tablet
  |mirrorless camera|blender|e-reader|robot vacuum|air purifier
plan: Basic|Plus|Pro|Team|Enterprise
order_id: ORD-48213|ORD-55102|ORD-60917|ORD-71288|ORD-80345|ORD-91476|ORD-10234
  |ORD-23981|ORD-37450|ORD-44019
weekday: Monday|Tuesday|Wednesday|Thursday|Friday|Saturday
city: Rotterdam|Memphis|Zürich|São Paulo|Singapore|Dublin|Kraków|Toronto|Lyon|Austin
  |Osaka|Málaga
country: Canada|Germany|Brazil|Japan|Australia|Mexico|Norway|India|South Africa
  |New Zealand|Poland|Côte d'Ivoire
days: 3|5|7|10|12|14|21
tool: MLflow|Kubernetes|Spark|Airflow|Terraform|Polars|PyTorch|Ray|Kafka|Postgres|Redis
  |dbt
feature: autoscaling|access control|automatic retries|result caching
  |structured logging|secrets management|GPU scheduling|the model registry|backfills
  |schema migrations|checkpointing|rate limiting
error: an OutOfMemoryError|a connection timeout|'permission denied'|a schema mismatch
  |'No space left on device'|a deadlock|an SSL handshake failure
task: loading large Parquet files|training on multiple GPUs
  |serving a model behind an API|joining two large tables|deploying to staging
  |streaming events in real time|running nightly batch jobs|fine-tuning a small model
service: payments-api|search-service|recommendation-service|checkout
  |notification-worker|feature-store|auth-gateway
topic: retrieval-augmented generation|vector databases|prompt injection defenses
  |model distillation|speculative decoding|mixture-of-experts models
  |4-bit quantization|LoRA fine-tuning|evaluating LLM agents|long-context models
  |tokenization|reinforcement learning from human feedback
  |synthetic data generation|hallucination detection
usecase: customer support chatbots|code generation|document search
  |on-device assistants|financial reporting|medical triage|contract review
year: 2022|2023|2024
metric: revenue|gross margin|order volume|conversion rate|churn rate|refund rate
  |average order value|weekly active users|support ticket volume
dimension: region|product category|sales channel|customer segment|month|country
region: EMEA|North America|APAC|LATAM
period: last quarter|Q3 2024|the last 30 days|2024|last week|the holiday season
  |January|the first half of the year
k: 3|5|10
person: Priya Natarajan|Tom Becker|Aiko Tanaka|Lucas Oliveira|Fatima Zahra
  |Sven Lindqvist|Chloé Martin|Diego Hernández|Grace Okafor|Mateusz Nowak
company: Northwind Traders|Acme Robotics|Globex|Initech|Umbrella Health
  |Stark Logistics|Wayne Analytics|Tyrell Systems
language: German|French|Spanish|Japanese
first_name: alice|bob|carol|dave|erin|frank|grace|heidi|ivan|judy|kai|lena|mallory|noah
  |olivia|peggy|quinn|rupert|sybil|trent|uma|victor|wendy|xavier|yara|zoe|amir|beatriz
  |chen|dmitri|elif|farah|goran|hana|ines|jonas|keiko|liam|maya|nikos
last_name: smith|jones|garcia|muller|rossi|kim|nguyen|patel|silva|cohen|novak|tanaka
  |ahmed|brown|dubois|larsen|kowalski|oconnor|fischer|santos|ivanova|haddad|berg
  |moreau|yilmaz
""")
    )
}

# (ticket category, question, answer)
_SUPPORT: Final = _entries("""
returns
How do I request a refund for my {product}?
Open the order, choose 'Return or refund' and follow the steps; refunds take 5 to 7
  business days.

billing
I was charged twice for my {plan} subscription. Can I get a refund?
Sorry about that! I opened a refund request for the duplicate {plan} charge.

shipping
Where is my order {order_id}? It was supposed to arrive on {weekday}.
Order {order_id} left our {city} warehouse; delivery is now expected on {weekday2}.

shipping
How can I change the shipping address for order {order_id}?
Until it ships, choose 'Edit address' on order {order_id}; later the carrier can
  redirect it.

warranty
My {product} stopped working after {days} days. What are my options?
Your {product} is under warranty, so we can repair or replace it for free.

billing
Can I upgrade from {plan} to {plan2} in the middle of the billing cycle?
Yes, you only pay the prorated difference between {plan} and {plan2}.

account
How do I reset my password if I no longer have access to my email?
Choose 'Forgot password', then 'I can't access my email'; we'll verify you by phone.

shipping
Do you ship to {country}, and how long does delivery take?
Yes, delivery to {country} takes about {days} business days; duties may apply.

returns
What is the return policy if I already opened the {product}?
Opened items can be returned within 30 days for store credit or your money back.

account
How do I cancel my {plan} plan and delete my account?
Cancel {plan} under Settings > Billing; deleting the account is permanent.

warranty
Is my {product} covered by the warranty if I drop it?
Drops aren't covered by the standard warranty, but "Protection Plus" covers one
  repair a year.

billing
Can I use a gift card together with a discount code?
Yes: the discount code applies first, then the gift card covers the rest.

returns
Why hasn't the {product} I returned been processed yet? I sent it back {days} days ago.
Your {product} reached our {city} warehouse; you'll be credited within 48 hours.

shipping
The {product} I received is a different color than the one I ordered.
Apologies for the mix-up! The correct {product} ships today from {city}.
""")

_SUPPORT_KB: Final = _lines("""
Refund policy: items can be returned within 30 days of delivery for a full refund to
  the original payment method.
Duplicate charges are usually pre-authorizations that disappear within 3 business days.
Tracking numbers become active within 24 hours of dispatch from the nearest warehouse.
Address changes are possible until the order is handed to the carrier.
Warranty: electronics carry a 1-year limited warranty covering manufacturing defects.
Plan changes are prorated to the day; downgrades take effect at the next renewal.
Account recovery requires two of: phone number, payment card digits, last order number.
International shipping reaches 48 countries; duties are paid by the recipient.
Opened items are inspected before store credit or a replacement is issued.
Cancelling a plan keeps access until the end of the paid period.
Protection Plus covers one accidental damage repair per year.
Gift cards can be combined with one discount code per order.
""")

# (question, answer)
_DOCS: Final = _entries("""
How do I configure {feature} in {tool}?
Add a {feature} section to the {tool} configuration and restart the service.

What is the difference between {tool} and {tool2} for {task}?
{tool} integrates better with existing pipelines; {tool2} wins when latency matters.

Why does my {tool} job fail with {error} when {task}?
{error} usually means under-provisioned workers: raise the memory limit in {tool}.

How can I speed up {task} with {tool}?
Partition the data, cache intermediate results and enable {feature}.

Is there a way to test {feature} locally before deploying to production?
Yes: run {tool} in local mode with the staging configuration.

What permissions do I need to enable {feature} for my team?
A workspace admin must grant your team the "manage {feature}" permission.

How do I roll back a bad deployment of {service}?
Select the previous release of {service} on the deploy dashboard and click 'Roll
  back'.

Can you explain how {tool} handles {feature} under heavy load?
{tool} queues requests and applies {feature} per worker, so it degrades gracefully.
""")

_DOCS_KB: Final = _lines("""
{tool} supports {feature} through its configuration file; keep production values in
  version control.
Troubleshooting {error}: check worker memory limits and skewed partitions, and make
  sure the {tool} version matches the cluster runtime.
Runbook for {service}: releases roll out gradually and can be rolled back from the
  deploy dashboard.
{tool} best practices for {task}: partition the input and cache hot datasets.
Access control: workspace admins grant permissions per team within five minutes.
""")

_ANALYTICS: Final = _entries("""
What was the total {metric} by {dimension} in {period}?
Here is the total {metric} by {dimension} for {period}; the largest group has 38%.

Show me the top {k} product categories by {metric} in {region}.
In {region}, electronics, home and sports lead on {metric} with 61% of the total.

How did {metric} change between {period} and {period2}?
{metric} rose by 8.4% between {period} and {period2}, mostly in {region}.

Why did {metric} drop in {region} during {period}?
The drop lines up with a pricing change and a two-day checkout outage in {region}.

Compare {metric} for new and returning customers in {region}.
Returning customers in {region} show a {metric} 2.3 times higher than new ones.
""")

_RESEARCH: Final = _entries("""
Summarize recent research on {topic}.
Work on {topic} focuses on benchmarks, cheaper training and combining it with {topic2}.

What are the trade-offs between {topic} and {topic2} for {usecase}?
For {usecase}, {topic} is more accurate while {topic2} is cheaper to run.

Find three papers about {topic} published after {year}.
I found a survey of {topic}, a comparison with {topic2} and a benchmark paper.

Is {topic} production ready for {usecase}?
For {usecase}, {topic} works today if you invest in evaluation and monitoring.
""")

_RESEARCH_KB: Final = _lines("""
A survey (2023): we review {topic} and compare it with {topic2} on six benchmarks.
An empirical study (2024): {topic} improves {usecase} accuracy by 4 to 9 points.
Position paper: evaluation of {topic} is fragmented; we propose shared metrics.
""")

_SENTENCES: Final = _lines("""
The quarterly planning meeting ran long because the roadmap had too many priorities.
Engineering agreed to freeze new features for two weeks to focus on reliability.
Customer satisfaction improved after the new onboarding flow shipped in March.
The incident on Tuesday was caused by an expired TLS certificate on the auth-gateway.
Latency at the 99th percentile dropped from 1.8 seconds to 600 milliseconds.
The team in Zürich will own the migration to the new data warehouse.
Support tickets about refunds doubled after the holiday sale.
A naïve caching strategy caused stale prices to appear on the product page.
Marketing wants a launch date before the trade show in São Paulo.
The pilot with three enterprise customers exceeded its adoption targets.
Finance flagged that cloud spend grew 22% quarter over quarter.
Legal asked for a review of the data retention policy before rollout.
The new model reduced hallucinated answers by roughly a third in offline tests.
Two engineers will be on call over the weekend during the migration.
Feedback from the café partners was mostly positive, with requests for offline mode.
The design review approved the simplified checkout with one open question about taxes.
""")

# (English, German, French, Spanish, Japanese); order matches _VOCAB["language"].
_TRANSLATIONS: Final = _entries("""
Where is my order?
Wo ist meine Bestellung?
Où est ma commande ?
¿Dónde está mi pedido?
私の注文はどこですか\uff1f

Thank you for your patience.
Vielen Dank für Ihre Geduld.
Merci de votre patience.
Gracias por su paciencia.
お待ちいただきありがとうございます。

Your refund has been processed.
Ihre Rückerstattung wurde bearbeitet.
Votre remboursement a été traité.
Su reembolso ha sido procesado.
返金処理が完了しました。

The meeting has been moved to Thursday.
Das Meeting wurde auf Donnerstag verschoben.
La réunion a été déplacée à jeudi.
La reunión se ha trasladado al jueves.
会議は木曜日に変更されました。

Please restart the application and try again.
Bitte starten Sie die Anwendung neu und versuchen Sie es erneut.
Veuillez redémarrer l'application et réessayer.
Reinicie la aplicación e inténtelo de nuevo.
アプリケーションを再起動して、もう一度お試しください。
""")

# (intent, e-mail subject)
_EMAIL_INTENTS: Final = _entries("""
follow up after the product demo
Following up on our demo

apologize for the delayed shipment of the {product}
About your {product}

confirm the meeting on {weekday}
Confirming {weekday}

ask for feedback on the {product} beta
Your thoughts on the {product} beta?

announce the new {plan} pricing
Changes to the {plan} plan
""")

# (task, answer with a code block): newlines, quotes and backslashes in the JSON text.
_CODE_TASKS: Final = (
    (
        "parses ISO 8601 dates into timezone-aware datetimes",
        r"""```python
from datetime import datetime, timezone


def parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
```""",
    ),
    (
        "retries an HTTP request with exponential backoff",
        r"""```python
import time

import requests


def get_with_retry(url, attempts=5):
    for i in range(attempts):
        try:
            return requests.get(url, timeout=10)
        except requests.RequestException:
            time.sleep(2 ** i)
    raise RuntimeError(f"giving up on {url}")
```""",
    ),
    (
        "deduplicates a list while preserving order",
        r"""```python
def dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
```
A dict keeps insertion order, so the first occurrence wins.""",
    ),
    (
        "validates an email address with a regular expression",
        r"""```python
import re

EMAIL = re.compile(r"^[\w.+-]+@[\w-]+\.[\w.]+$")


def is_email(text: str) -> bool:
    return EMAIL.fullmatch(text) is not None
```""",
    ),
)

_SYSTEM_PROMPTS: Final = {
    "support": "You are a friendly support assistant. Cite the policy.",
    "docs": "Answer using only the provided context.",
    "analytics": "Translate questions into SQL over the warehouse.",
    "research": "You are a research assistant. Cite sources.",
    "writing": "You are a careful writing assistant.",
    "code": "You are a senior Python engineer.",
}

_REVIEWERS: Final = tuple(
    f"{u}@my_company.com" for u in ("anna.k", "ben.r", "carla.m", "dev.p", "eva.s")
)
_JUDGES: Final = (
    "openai:/gpt-4o-mini",
    "openai:/gpt-4o",
    "anthropic:/claude-3-5-sonnet",
)
_DEV_LOGINS: Final = ("jsmith", "akim", "mrossi", "tnguyen", "lpatel")
_MODELS: Final = (
    "gpt-4o-mini",
    "gpt-4o",
    "claude-3-5-sonnet",
    "claude-3-5-haiku",
    "gpt-4.1-mini",
    "llama-3.1-70b-instruct",
)
_MODEL_CUM: Final = (40, 60, 75, 85, 93, 100)
#: Each model's provider and list price in USD per million input and output tokens.
_PROVIDERS: Final = {
    "gpt-4o-mini": "openai", "gpt-4o": "openai", "claude-3-5-sonnet": "anthropic",
    "claude-3-5-haiku": "anthropic", "gpt-4.1-mini": "openai",
    "llama-3.1-70b-instruct": "meta",
}  # fmt: skip
_PRICES: Final = {
    "gpt-4o-mini": (0.15, 0.6), "gpt-4o": (2.5, 10.0),
    "claude-3-5-sonnet": (3.0, 15.0), "claude-3-5-haiku": (0.8, 4.0),
    "gpt-4.1-mini": (0.4, 1.6), "llama-3.1-70b-instruct": (0.88, 0.88),
}  # fmt: skip
_TEMPERATURES: Final = ("0.0", "0.0", "0.1", "0.2", "0.3", "0.5", "0.7", "1.0")
_MAX_TOKENS: Final = ("256", "512", "1024", "1024", "2048", "4096")
_ENVS: Final = ("production", "staging", "dev")
_ENV_CUM: Final = (70, 90, 100)
_SESSION_LEN_CUM: Final = (30, 45, 57, 67, 75, 82, 88, 93, 97, 100)  # lengths 1..10
_STARS: Final = (1.0, 2.0, 3.0, 3.0, 4.0, 4.0, 4.0, 5.0, 5.0, 5.0)
_TONES: Final = ("positive", "positive", "neutral", "neutral", "negative", "frustrated")
_RATIONALES: Final = {
    True: "The response answers the question and agrees with the retrieved context.",
    False: "The response contradicts the context or leaves the question unanswered.",
}
_RELEVANCE_WHY: Final = {
    True: "Most of the answer addresses what the user asked.",
    False: "The answer drifts to a related but different topic.",
}
_JUDGE_ERRORS: Final = (
    ("RateLimitError", "Error code: 429 - Rate limit reached for judge model"),
    ("APITimeoutError", "Request timed out."),
    ("ValueError", "Judge output could not be parsed as a rating"),
)

# Exceptions by the type of the span that raises them: (type, message).
_ERRORS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "LLM": (
        (
            "RateLimitError",
            "Error code: 429 - Rate limit reached for {model} on tokens per min (TPM): "
            "Limit 200000, Used 199850, Requested 1312.",
        ),
        ("APITimeoutError", "Request timed out."),
        (
            "BadRequestError",
            "Error code: 400 - This model's maximum context length is 128000 tokens. "
            "However, your messages resulted in 131072 tokens.",
        ),
        ("InternalServerError", "Error code: 500 - The server had an error."),
    ),
    "TOOL": (
        ("TimeoutError", "Tool call exceeded the 30 s timeout"),
        (
            "HTTPError",
            "404 Client Error: Not Found for url: https://api.my_company.com/v2",
        ),
        ("KeyError", "'order_id'"),
        ("ValueError", 'column "revenu" does not exist'),
        ("PermissionError", "service account may not call this endpoint"),
    ),
    "RETRIEVER": (
        (
            "ConnectionError",
            "Failed to connect to vector store at vectordb.internal:6333",
        ),
        ("ValueError", "Index 'docs-v3' not found"),
    ),
    "EMBEDDING": (("RateLimitError", "Error code: 429 - Rate limit reached"),),
    "PARSER": (
        ("JSONDecodeError", "Expecting ',' delimiter: line 1 column 57 (char 56)"),
        ("OutputParserException", "Could not parse LLM output: missing 'answer'"),
    ),
    "AGENT": (("RecursionError", "Agent stopped after 15 iterations"),),
    "CHAIN": (("ValueError", "Missing input key: 'question'"),),
}
_FAIL_WEIGHT: Final = {"LLM": 6, "TOOL": 6, "RETRIEVER": 3, "PARSER": 2, "EMBEDDING": 1}
_TIME_WEIGHT: Final = {
    "LLM": 6.0,
    "TOOL": 2.0,
    "RETRIEVER": 2.0,
    "EMBEDDING": 0.6,
    "RERANKER": 1.0,
    "PARSER": 0.3,
}
# mlflow.spanLogLevel as MLflow 3.17 wrote it in the oracle fixture: CHAIN 10, else 20.
_LOG_LEVEL: Final = {"CHAIN": "10", "PARSER": "10"}
