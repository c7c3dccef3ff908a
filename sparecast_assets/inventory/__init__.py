"""Stocking decisions from demand forecasts: lead-time demand, policies, simulation, tables."""
