"""Recipient classification: lists, -request, -owner, the bot, and strangers."""

from __future__ import annotations

from mailgate.routing import RouteKind, classify


def test_classify(settings) -> None:
    assert classify(settings, "dev@lists.example.org").kind is RouteKind.LIST
    assert classify(settings, "<DEV@Lists.Example.org>").list_name == "dev"
    request = classify(settings, "dev-request@lists.example.org")
    assert (request.kind, request.list_name) == (RouteKind.REQUEST, "dev")
    assert classify(settings, "secret-owner@lists.example.org").kind is RouteKind.OWNER
    assert classify(settings, "mailgate@lists.example.org").kind is RouteKind.BOT
    assert classify(settings, "nobody@lists.example.org") is None
    assert classify(settings, "dev@elsewhere.example") is None
    assert classify(settings, "nope-request@lists.example.org") is None
