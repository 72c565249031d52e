"""Admin routes for the program's catalogue: rewards, campaigns (edit, pause, resume, end, delete) and custom actions."""

from __future__ import annotations

from typing import Any

from flask import current_app, g

from app.api import bp, json_body
from app.api.admin import action_json, call_service, campaign_json, reward_json, session_only
from app.services import program
from app.services import rewards as reward_service


@bp.post("/admin/rewards")
@session_only
def admin_reward_create() -> Any:
    reward = call_service(reward_service.save_reward, g.shop, json_body(), g.actor, form="")
    return reward_json(reward), 201


@bp.put("/admin/rewards/<int:reward_id>")
@session_only
def admin_reward_update(reward_id: int) -> Any:
    return reward_json(call_service(reward_service.save_reward, g.shop, json_body(), g.actor, reward_id=reward_id,
                                    form=""))


@bp.delete("/admin/rewards/<int:reward_id>")
@session_only
def admin_reward_delete(reward_id: int) -> Any:
    call_service(reward_service.delete_reward, g.shop, reward_id, g.actor)
    return {"deleted": reward_id}


@bp.post("/admin/custom-actions")
@session_only
def admin_action_save() -> Any:
    cfg = current_app.config["REGULARS"]
    return action_json(call_service(program.save_custom_action, g.shop, json_body(), g.actor,
                                    http_links=cfg.development, form="")), 201


@bp.post("/admin/campaigns")
@session_only
def admin_campaign_create() -> Any:
    return campaign_json(call_service(program.save_campaign, g.shop, json_body(), g.actor, form="")), 201


@bp.put("/admin/campaigns/<int:campaign_id>")
@session_only
def admin_campaign_update(campaign_id: int) -> Any:
    return campaign_json(call_service(program.save_campaign, g.shop, json_body(), g.actor, campaign_id=campaign_id,
                                      form=""))


@bp.post("/admin/campaigns/<int:campaign_id>/<any(pause, resume, end):move>")
@session_only
def admin_campaign_move(campaign_id: int, move: str) -> Any:
    return campaign_json(call_service(program.change_campaign, g.shop, campaign_id, move, g.actor))


@bp.delete("/admin/campaigns/<int:campaign_id>")
@session_only
def admin_campaign_delete(campaign_id: int) -> Any:
    call_service(program.change_campaign, g.shop, campaign_id, "delete", g.actor)
    return {"deleted": campaign_id}
