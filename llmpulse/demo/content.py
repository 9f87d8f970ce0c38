"""What the demo's applications say: a small support knowledge base, conversations, agent tasks,
tickets and the system prompts (who says it, with which model, is `llmpulse.demo.models`).

Everything `llmpulse demo` says lives here as tables, so the scenarios stay short and a
new question is one more row, not one more branch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    """One knowledge-base article with the questions it answers, a grounded answer and a wrong one."""

    doc_id: str
    title: str
    content: str
    questions: tuple[str, ...]
    answer: str
    hallucination: str


KNOWLEDGE_BASE: tuple[Article, ...] = (
    Article(
        "kb-101",
        "Refund policy",
        "Monthly plans can be refunded within 14 days of the charge. Annual plans can be refunded within "
        "30 days, prorated for the months already used. Refunds go back to the original payment method "
        "within 5 to 10 business days.",
        (
            "Can I get a refund on my annual plan?",
            "How long does a refund take to show up?",
            "I was charged yesterday for the monthly plan, can I get my money back?",
        ),
        "Yes. Annual plans can be refunded within 30 days of the charge, prorated for the months already "
        "used, and monthly plans within 14 days. The refund goes back to your original payment method "
        "within 5 to 10 business days.",
        "Absolutely, every purchase comes with a 90-day no-questions-asked guarantee and we can wire the "
        "full amount straight to your bank account within 24 hours.",
    ),
    Article(
        "kb-102",
        "Resetting your password",
        "To reset a password, open the sign-in page and choose 'Forgot password'. The reset link is valid "
        "for 60 minutes and can be used once. Accounts with SSO enabled must reset the password with "
        "their identity provider.",
        ("How do I reset my password?", "My password reset link doesn't work anymore, why?"),
        "Open the sign-in page and choose 'Forgot password'. The reset link is valid for 60 minutes and "
        "can be used once; if your workspace uses SSO, reset the password with your identity provider.",
        "Just email our security desk with your date of birth and they will text you a temporary PIN "
        "that stays valid for a whole week.",
    ),
    Article(
        "kb-103",
        "API rate limits",
        "The Pro plan allows 600 API requests per minute per workspace and Enterprise allows 3,000. "
        "Requests over the limit get HTTP 429 with a Retry-After header. Limits reset every 60 seconds.",
        ("What is the API rate limit on Pro?", "Why am I getting 429 errors from the API?"),
        "On Pro you can make 600 API requests per minute per workspace (3,000 on Enterprise). Requests "
        "over the limit get HTTP 429 with a Retry-After header, and the limit resets every 60 seconds.",
        "Paid plans have no rate limits at all; any extra calls are silently queued and processed "
        "overnight by our batch cluster.",
    ),
    Article(
        "kb-104",
        "Exporting your data",
        "Workspace owners can export all data from Settings > Data > Export as CSV or JSON. Exports up to "
        "2 GB are emailed as a download link that expires after 7 days.",
        ("How can I export all my data?", "Can I download my workspace data as JSON?"),
        "As a workspace owner, go to Settings > Data > Export and pick CSV or JSON. Exports up to 2 GB "
        "arrive by email as a download link that expires after 7 days.",
        "Exports are only available as printed PDF reports, which our team mails to you on a USB stick "
        "within about a month.",
    ),
    Article(
        "kb-105",
        "Single sign-on",
        "SAML single sign-on is available on the Enterprise plan. Okta, Microsoft Entra ID and Google "
        "Workspace are supported, and SCIM provisioning keeps users and groups in sync.",
        ("Do you support SSO with Okta?", "Which identity providers work with single sign-on?"),
        "Yes, SAML single sign-on is available on the Enterprise plan and works with Okta, Microsoft "
        "Entra ID and Google Workspace; SCIM provisioning keeps your users and groups in sync.",
        "SSO is free on every plan and works with any social login, including Facebook and TikTok "
        "accounts, without any configuration.",
    ),
    Article(
        "kb-106",
        "Invoices and VAT",
        "Invoices are issued on the first business day of each month and can be downloaded as PDF from "
        "Billing > Invoices. A VAT number and billing address can be added before the invoice is issued.",
        ("Where can I find my invoices?", "How do I add our VAT number to invoices?"),
        "Invoices are issued on the first business day of each month; download them as PDF from Billing > "
        "Invoices. Add your VAT number and billing address there before the next invoice is issued.",
        "Invoices are sent by fax every quarter, and VAT numbers can only be added by calling our "
        "accounting hotline on weekends.",
    ),
    Article(
        "kb-107",
        "Adding and removing seats",
        "Owners can add seats at any time from Billing > Seats; new seats are charged prorated for the rest "
        "of the billing period. Removed seats are credited at the next renewal.",
        ("How do I add more seats?", "Do I get money back if I remove a seat?"),
        "Owners can add seats any time from Billing > Seats and pay a prorated amount for the rest of the "
        "billing period. Seats you remove are credited at the next renewal.",
        "Seats can only be changed once a year during our annual enrollment week, and removed seats are "
        "forfeited without any credit.",
    ),
    Article(
        "kb-108",
        "Data retention",
        "Trace data is kept for 30 days on the Free plan, 90 days on Pro and 400 days on Enterprise. "
        "Deleted projects are purged after 7 days.",
        ("How long do you keep our trace data?", "What happens to data in a deleted project?"),
        "Trace data is kept for 30 days on Free, 90 days on Pro and 400 days on Enterprise. A deleted "
        "project is purged after 7 days.",
        "We keep every trace forever on all plans, and deleted projects are archived to cold storage "
        "where you can restore them for ten years.",
    ),
    Article(
        "kb-109",
        "Two-factor authentication",
        "Two-factor authentication works with any TOTP app such as 1Password, Authy or Google "
        "Authenticator. Each user gets 10 single-use backup codes when enabling it.",
        ("How do I turn on two-factor authentication?", "I lost my phone, how do I log in with 2FA on?"),
        "Two-factor authentication works with any TOTP app such as 1Password, Authy or Google "
        "Authenticator. When you enable it you get 10 single-use backup codes; use one of them to sign "
        "in without your phone.",
        "Two-factor codes are delivered by postal mail, and if you lose your phone the account is "
        "permanently locked for security reasons.",
    ),
    Article(
        "kb-110",
        "Webhook signatures and retries",
        "Webhook deliveries are signed with HMAC-SHA256 in the X-Acme-Signature header. Failed deliveries "
        "are retried 5 times over 24 hours with exponential backoff.",
        ("How do I verify your webhooks?", "Do you retry webhooks that fail?"),
        "Each webhook delivery is signed with HMAC-SHA256 in the X-Acme-Signature header. Failed "
        "deliveries are retried 5 times over 24 hours with exponential backoff.",
        "Webhooks are not signed, but you can trust them because they come from a fixed IP address; "
        "failed ones are dropped immediately.",
    ),
    Article(
        "kb-111",
        "Downgrading a plan",
        "Downgrading takes effect at the end of the current billing period. Features above the new plan's "
        "limits become read-only; nothing is deleted.",
        ("What happens if I downgrade to Free?", "When does a downgrade take effect?"),
        "A downgrade takes effect at the end of your current billing period. Anything above the new "
        "plan's limits becomes read-only, and nothing is deleted.",
        "Downgrading is immediate and deletes all projects beyond the first one, together with their "
        "history, as soon as you confirm.",
    ),
    Article(
        "kb-112",
        "Service status",
        "Live service status and incident history are published at status.acme.example. Updates can be "
        "followed by email, RSS or Slack.",
        ("Is the service down right now?", "Where can I see past incidents?"),
        "Live status and the incident history are published at status.acme.example, and you can follow "
        "updates by email, RSS or Slack.",
        "We never have outages, so there is no status page; our engineers post updates on a private "
        "forum that only partners can read.",
    ),
)

SUPPORT_SYSTEM_PROMPT = (
    "You are Acme Cloud's support assistant. Answer only from the context articles provided. "
    "If the context does not contain the answer, say so and offer to open a ticket. Be concise."
)

CHAT_SYSTEM_PROMPT = (
    "You are Acme Cloud's in-app assistant. You help developers use the product, write clear "
    "messages and understand technical concepts. Keep answers short and practical. "
    "[The full prompt also holds 40 worked examples and the product glossary.]"
)
CHAT_PREFIX_TOKENS = 2360  # the system prompt with examples: the part Anthropic's prompt cache holds

CHAT_TURNS: tuple[tuple[str, str], ...] = (
    (
        "Can you help me write a short note to my team about the database migration on Saturday?",
        "Sure. \"Hi team, on Saturday from 08:00 to 10:00 UTC we'll migrate the main database. The app "
        "stays read-only during the window. Please hold deploys until we confirm it's done. Thanks!\"",
    ),
    (
        "What is an idempotency key and when should I use one?",
        "An idempotency key is a unique value you send with a request so that a retry of the same request "
        "is applied only once. Use one on any call that creates or charges something and may be retried.",
    ),
    (
        "Explain the difference between p95 and average latency in one paragraph.",
        "The average adds all latencies and divides by the count, so a few slow requests hide behind many "
        "fast ones. p95 is the latency that 95% of requests beat: it shows what your slower users feel.",
    ),
    (
        "How do I rotate an API key without downtime?",
        "Create a second key, deploy it to all clients, watch usage of the old key drop to zero, then "
        "revoke the old key. Both keys work in parallel until you revoke the first.",
    ),
    (
        "Summarize what a webhook is for a non-technical colleague.",
        "A webhook is a message our system sends to yours the moment something happens, like a doorbell, "
        "so your system doesn't have to keep asking whether anything changed.",
    ),
    (
        "Can you turn this into a bullet list: deploy, smoke test, announce, monitor?",
        "- Deploy the release\n- Run the smoke tests\n- Announce the change to users\n- Monitor errors and "
        "latency for the next hour",
    ),
    (
        "What's a good name for a feature flag that enables the new billing page?",
        "Something descriptive and scoped, for example `billing.new_page.enabled`; include the area, the "
        "feature and the state so it reads well in code and in the flag dashboard.",
    ),
    ("Thanks, that's all for now!", "You're welcome! Have a great day."),
)


@dataclass(frozen=True)
class ToolStep:
    name: str
    arguments: str  # JSON; `{order}` here and in `result` is replaced by the order number
    result: str


@dataclass(frozen=True)
class AgentTask:
    prompt: str
    steps: tuple[tuple[ToolStep, ...], ...]  # one tuple of parallel tool calls per loop iteration
    answer: str


AGENT_SYSTEM_PROMPT = (
    "You are order-assistant, an agent that resolves order questions for Acme Shop customers. "
    "Use the tools to look things up; never guess order data."
)
AGENT_TOOL_TOKENS = 1240  # tool definitions sent with every agent call
AGENT_TASKS: tuple[AgentTask, ...] = (
    AgentTask(
        "Where is my order {order}? It was supposed to arrive yesterday.",
        (
            (
                ToolStep(
                    "lookup_order",
                    '{"order_id": "{order}"}',
                    '{"order_id": "{order}", "status": "shipped", "carrier": "UPS", "tracking": "1Z84{order}"}',
                ),
            ),
            (
                ToolStep(
                    "get_shipping_status",
                    '{"tracking": "1Z84{order}"}',
                    '{"status": "in_transit", "last_scan": "Memphis, TN", "eta": "tomorrow by 8 pm"}',
                ),
            ),
        ),
        "Your order {order} shipped with UPS and was last scanned in Memphis, TN. It is in transit and "
        "now expected tomorrow by 8 pm.",
    ),
    AgentTask(
        "Please cancel order {order}, I ordered the wrong size.",
        (
            (
                ToolStep(
                    "lookup_order",
                    '{"order_id": "{order}"}',
                    '{"order_id": "{order}", "status": "processing", "items": 1}',
                ),
            ),
            (
                ToolStep(
                    "cancel_order",
                    '{"order_id": "{order}", "reason": "wrong size"}',
                    '{"cancelled": true, "refund": "full", "refund_eta_days": 5}',
                ),
            ),
        ),
        "Done: order {order} was still processing, so I cancelled it. You'll get a full refund within 5 days.",
    ),
    AgentTask(
        "I was charged twice for order {order}.",
        (
            (
                ToolStep(
                    "lookup_order",
                    '{"order_id": "{order}"}',
                    '{"order_id": "{order}", "status": "delivered", "total": 84.90}',
                ),
                ToolStep(
                    "list_payments",
                    '{"order_id": "{order}"}',
                    '{"payments": [{"amount": 84.90, "state": "captured"}, {"amount": 84.90, "state": "captured"}]}',
                ),
            ),
            (
                ToolStep(
                    "create_ticket",
                    '{"order_id": "{order}", "summary": "duplicate charge 84.90"}',
                    '{"ticket": "SUP-4471", "queue": "billing", "sla_hours": 24}',
                ),
            ),
        ),
        "I can see two captured payments of $84.90 for order {order}. I opened ticket SUP-4471 with our "
        "billing team; they will refund the duplicate within 24 hours.",
    ),
)

TICKETS: tuple[tuple[str, str, str], ...] = (
    # (ticket text, category, priority)
    ("Our dashboard has been timing out for all users since 9am.", "outage", "high"),
    ("Please send me last month's invoice with our new VAT number.", "billing", "low"),
    ("How do I connect the Slack integration to a private channel?", "how-to", "low"),
    ("We were charged for 40 seats but we only have 25 users.", "billing", "medium"),
    ("The API returns 500 when I upload files larger than 10 MB.", "bug", "medium"),
    ("Can we get a security questionnaire filled in before renewal?", "sales", "low"),
    ("Login with Okta fails with 'invalid audience' since this morning.", "outage", "high"),
)
TRIAGE_SYSTEM_PROMPT = 'Classify the ticket. Reply with JSON: {"category": ..., "priority": ...}.'
DRAFT_SYSTEM_PROMPT = (
    "Draft a short, friendly first reply to a support ticket. Acknowledge the problem, say what "
    "happens next and when. Never promise refunds."
)
DRAFT_PREFIX_TOKENS = 1480

SEARCH_SYSTEM_PROMPT = "Summarize the search results for the query in two sentences, citing article titles."
