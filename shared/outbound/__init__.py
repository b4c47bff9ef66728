"""Outbound webhooks: subscriptions, publishing and fan-out, the delivery worker, the delivery
log, signing, the retry policy, the HTTP sender and its SSRF guard."""
