"""formulae"""
