"""The intermediate server (中間サーバー): one per agency, between its business systems and the hub."""
