"""Key builders for every entity of the single table (see docs/data-model.md for the map)."""

from __future__ import annotations


def shop_pk(shop_id: str) -> str:
    return f"SHOP#{shop_id}"


ACCOUNT_SK = "ACCOUNT"


USAGE_PREFIX = f"{ACCOUNT_SK}#USAGE#"


def account_usage_sk(hour: str) -> str:
    """The count of business-initiated conversations started in one UTC hour (``yyyy-mm-ddTHH``)."""
    return f"{USAGE_PREFIX}{hour}"


def business_initiated_sk(customer_key: str) -> str:
    """When the customer's current business-initiated 24-hour period began."""
    return f"BIC#{customer_key}"


def phone_pk(phone_number_id: str) -> str:
    return f"PHONE#{phone_number_id}"


PHONE_SK = "PHONE"


def waba_pk(waba_id: str) -> str:
    """A WhatsApp Business Account's partition: one pointer item per shop that sends with one of its numbers
    (template webhooks name only the account, ``entry[].id``)."""
    return f"WABA#{waba_id}"


def waba_shop_sk(shop_id: str) -> str:
    return f"SHOP#{shop_id}"


WABA_SHOP_PREFIX = "SHOP#"


def rate_window_pk(shop_id: str, bucket: str) -> str:
    return f"RATE#{shop_id}#{bucket}"


def principal_rate_window_pk(subject: str, bucket: str) -> str:
    """A caller's own windows, for requests that act on no shop (a prefix no shop's windows share)."""
    return f"RATEP#{subject}#{bucket}"


def send_rate_pk(phone_number_id: str) -> str:
    """A phone number's send rate: one item (SK ``TAT``) holding when its next free send slot starts."""
    return f"SENDRATE#{phone_number_id}"


# --- customers (in the shop's partition) ------------------------------------------------------------

CUSTOMER_PREFIX = "CUSTOMER#"


def customer_sk(customer_key: str) -> str:
    return f"{CUSTOMER_PREFIX}{customer_key}"


def customer_identity_sk(identifier: str) -> str:
    """A pointer from one of a customer's identifiers (phone or BSUID) to the customer's key."""
    return f"CUSTID#{identifier}"


def consent_event_sk(customer_key: str, at: str, reference: str) -> str:
    return f"CONSENT#{customer_key}#{at}#{reference}"


def shop_customers_gsi2pk(shop_id: str) -> str:
    return f"SHOP#{shop_id}#CUSTOMERS"


def customer_gsi2sk(created_at: str, customer_key: str) -> str:
    return f"{created_at}#{customer_key}"


# --- message templates (in the shop's partition) -------------------------------------------------------

TEMPLATE_PREFIX = "TEMPLATE#"


def template_sk(name: str, language: str) -> str:
    """One message template in one language, as Meta keeps it (names are ``[a-z0-9_]``, so ``#`` parts them)."""
    return f"{TEMPLATE_PREFIX}{name}#{language}"


# --- conversations and messages ----------------------------------------------------------------------


def conversation_pk(conversation_id: str) -> str:
    return f"CONV#{conversation_id}"


CONVERSATION_SK = "CONVERSATION"


def shop_conversations_gsi1pk(shop_id: str) -> str:
    return f"SHOP#{shop_id}#CONVERSATIONS"


def conversation_gsi1sk(last_message_at: str, conversation_id: str) -> str:
    return f"{last_message_at}#{conversation_id}"


def message_pk(message_id: str) -> str:
    return f"MSG#{message_id}"


MESSAGE_SK = "MESSAGE"


def conversation_messages_gsi1pk(conversation_id: str) -> str:
    return f"CONV#{conversation_id}#MESSAGES"


def message_gsi1sk(timestamp: str, message_id: str) -> str:
    return f"{timestamp}#{message_id}"


def wamid_pk(whatsapp_message_id: str) -> str:
    """A pointer from an outbound message's wamid to the message (statuses name the wamid)."""
    return f"WAMID#{whatsapp_message_id}"


WAMID_SK = "WAMID"


# --- AI agents ---------------------------------------------------------------------------------------


def agent_pk(agent_id: str) -> str:
    return f"AGENT#{agent_id}"


AGENT_SK = "AGENT"


def shop_agents_gsi1pk(shop_id: str) -> str:
    return f"SHOP#{shop_id}#AGENTS"


def agent_gsi1sk(created_at: str, agent_id: str) -> str:
    return f"{created_at}#{agent_id}"


def knowledge_prefix(version: int) -> str:
    """The chunks of one version of an agent's knowledge (in the agent's partition)."""
    return f"KB#{version:08d}#"


def knowledge_sk(version: int, chunk: int) -> str:
    return f"{knowledge_prefix(version)}{chunk:03d}"


# In the shop's partition: which agent answers (one at a time) and how many agents the shop has.
ACTIVE_AGENT_SK = "AI#ACTIVE"
AGENT_COUNT_SK = "AI#COUNT"


def ai_spend_sk(month: str) -> str:
    """The shop's AI spend and tokens in one UTC month (``yyyy-mm``)."""
    return f"AI#SPEND#{month}"


def ai_reply_pk(conversation_id: str) -> str:
    """The AI's replies in a conversation: one item per customer turn answered (keyed by its message)."""
    return f"AIREPLY#{conversation_id}"


# --- automation flows ---------------------------------------------------------------------------------


def flow_pk(flow_id: str) -> str:
    return f"FLOW#{flow_id}"


FLOW_SK = "FLOW"


def flow_version_sk(version: int) -> str:
    """One immutable version of a flow's definition (in the flow's partition)."""
    return f"VERSION#{version:06d}"


def shop_flows_gsi1pk(shop_id: str) -> str:
    return f"SHOP#{shop_id}#FLOWS"


def flow_gsi1sk(created_at: str, flow_id: str) -> str:
    return f"{created_at}#{flow_id}"


def flow_name_sk(folded_name: str) -> str:
    """In the shop's partition: which flow holds a name (names are unique per shop, folded)."""
    return f"FLOWNAME#{folded_name}"


def trigger_claim_sk(claim: str) -> str:
    """In the shop's partition: which active flow claims a keyword or a button id."""
    return f"TRIGGER#{claim}"


# In the shop's partition: the active flows' triggers, one attribute per flow, read once per inbound message.
AUTOMATION_INDEX_SK = "AUTOMATION#INDEX"

RUNNING_PREFIX = "RUNNING#"


def flow_running_sk(execution: str) -> str:
    """In the flow's partition: one of its executions still running (deleted when it ends)."""
    return f"{RUNNING_PREFIX}{execution}"


def flow_run_sk(execution: str) -> str:
    """In the flow's partition: how one of its executions ended (outcome, reason, steps)."""
    return f"RUN#{execution}"


def flow_once_sk(flow_id: str, customer_key: str) -> str:
    """In the shop's partition: the customer started this ``oncePerCustomer`` flow (and by which message)."""
    return f"FLOWONCE#{flow_id}#{customer_key}"


def flow_stats_sk(day: str) -> str:
    """In the shop's partition: one UTC day's flow counters, every flow's in one item (``<flowId>#started``,
    ``#finished``, ``#completed``, ``#fallback``, ``#steps``): a range of days reads one item a day, however
    many flows the shop has."""
    return f"FLOWSTATS#{day}"


# --- analytics counters -----------------------------------------------------------------------------


def stats_pk(shop_id: str) -> str:
    """A shop's analytics counters (their own partition: analytics reads never touch the shop's items)."""
    return f"STATS#{shop_id}"


def stats_hour_sk(hour: str) -> str:
    """One UTC hour's counters (``yyyy-mm-ddTHH``)."""
    return f"H#{hour}"


def stats_day_sk(day: str) -> str:
    """One UTC day's counters (``yyyy-mm-dd``): the hours' roll-up."""
    return f"D#{day}"


def stats_batch_pk(batch: str) -> str:
    """The marker of a counted batch of table changes (so a retried batch is counted once)."""
    return f"STATSBATCH#{batch}"


def campaign_stats_pk(campaign_id: str) -> str:
    """A campaign's funnel counters (analytics/campaigns.py): their own partition, one item."""
    return f"CAMPAIGNSTATS#{campaign_id}"


CAMPAIGN_STATS_SK = "FUNNEL"


# --- campaigns ----------------------------------------------------------------------------------------


def campaign_pk(campaign_id: str) -> str:
    """A campaign's partition: the campaign, its explicit audience, its counters and its recipients."""
    return f"CAMPAIGN#{campaign_id}"


CAMPAIGN_SK = "CAMPAIGN"
# The explicit list of waIds a campaign names (zlib-compressed JSON), kept beside the campaign: up to 10,000
# ids would make every listing of the shop's campaigns read them.
CAMPAIGN_AUDIENCE_SK = "AUDIENCE"
CAMPAIGN_COUNTS_PREFIX = "COUNTS#"


def campaign_counts_sk(shard: int) -> str:
    """One of a campaign's counter shards (recipients by state): a send adds to one shard, a read sums them."""
    return f"{CAMPAIGN_COUNTS_PREFIX}{shard:02d}"


RECIPIENT_PREFIX = "RECIPIENT#"


def campaign_recipient_sk(customer_key: str) -> str:
    """What a campaign does with one customer: once per (campaign, customer)."""
    return f"{RECIPIENT_PREFIX}{customer_key}"


def shop_campaigns_gsi1pk(shop_id: str) -> str:
    return f"SHOP#{shop_id}#CAMPAIGNS"


def campaign_gsi1sk(created_at: str, campaign_id: str) -> str:
    return f"{created_at}#{campaign_id}"


def parked_recipients_gsi1pk(campaign_id: str, state: str) -> str:
    """A campaign's recipients waiting in one state (paused, for the tier, for quiet hours): a sparse index,
    so waking them reads only them."""
    return f"CAMPAIGN#{campaign_id}#PARKED#{state}"


def parked_recipient_gsi1sk(wake_at: str, customer_key: str) -> str:
    """When the recipient may be woken (ISO UTC; empty: whenever the campaign runs) and who."""
    return f"{wake_at}#{customer_key}"
