"""Certificates of insurance: the PDF issued for a bound or verified policy with its live
verification link, and certificates sellers upload, read into a pre-filled submission."""
