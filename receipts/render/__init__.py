"""Rendering receipts as PDF (docs/formats.md): layout, fonts, QR code, seal, PDF/A-3b and PAdES.

The public entry points are in :mod:`receipts.render.receipt_pdf`. Modules here import reportlab,
zxing-cpp, pikepdf and pyHanko only inside the functions that use them, so importing this
package (or ``receipts``) stays cheap for commands that never render.
"""
