"""Agencies (機関) of the simulation and their deterministic synthetic population.

``agencies.catalogue`` lists the agencies (municipalities and デジタル庁) with their agency codes
(機関コード); ``agencies.population`` generates the people they know, their registrations
(団体内統合宛名番号) and the replicas (副本) their business systems register.
"""
