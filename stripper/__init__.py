"""stripper"""
