"""SQLAlchemy 2 typed tables; every constraint that protects money lives in the database too."""

from app.models.admin import ApiKey, AuditLog
from app.models.analytics import AnalyticsShop, CustomerStats, OrderFacts
from app.models.automation import Automation, AutomationEnrollment, AutomationStepRun
from app.models.events import EventDelivery, ShopIntegration, WebhookEndpoint
from app.models.ledger import LedgerEntry
from app.models.member import Member
from app.models.order import Order
from app.models.outbox import OutboxEvent
from app.models.program import Campaign, CustomAction, Reward, Tier, TierChange
from app.models.redemption import Redemption
from app.models.referral import Referral
from app.models.shop import Shop
from app.models.types import utcnow
from app.models.webhook import PENDING_STATUSES, WebhookDelivery

__all__ = [
    "AnalyticsShop",
    "ApiKey",
    "AuditLog",
    "Automation",
    "AutomationEnrollment",
    "AutomationStepRun",
    "Campaign",
    "CustomAction",
    "CustomerStats",
    "EventDelivery",
    "LedgerEntry",
    "Member",
    "Order",
    "OrderFacts",
    "OutboxEvent",
    "PENDING_STATUSES",
    "Redemption",
    "Referral",
    "Reward",
    "Shop",
    "ShopIntegration",
    "Tier",
    "TierChange",
    "WebhookDelivery",
    "WebhookEndpoint",
    "utcnow",
]
