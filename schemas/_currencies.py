"""The currencies money may be stated in: the active ISO 4217 codes of circulating currencies.

From ISO 4217 list one (SIX, as amended to 2025). Left out on purpose: fund and accounting
units (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW, XDR, XSU, XUA), precious metals (XAU, XAG,
XPD, XPT), bond-market units (XBA-XBD), the testing and "no currency" codes (XTS, XXX), and codes
withdrawn since (HRK 2023, SLL 2024, ZWL 2024, ANG 2025): no premium, limit or sale is stated
in them. A code added to the list is a contract change (docs/architecture.md, "Input bounds").
"""

from typing import Final

ACTIVE_CURRENCIES: Final = frozenset(
    {
        *("AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN"),
        *("BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN"),
        *("BWP", "BYN", "BZD"),
        *("CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK"),
        *("DJF", "DKK", "DOP", "DZD"),
        *("EGP", "ERN", "ETB", "EUR"),
        *("FJD", "FKP"),
        *("GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD"),
        *("HKD", "HNL", "HTG", "HUF"),
        *("IDR", "ILS", "INR", "IQD", "IRR", "ISK"),
        *("JMD", "JOD", "JPY"),
        *("KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT"),
        *("LAK", "LBP", "LKR", "LRD", "LSL", "LYD"),
        *("MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN"),
        *("MYR", "MZN"),
        *("NAD", "NGN", "NIO", "NOK", "NPR", "NZD"),
        *("OMR",),
        *("PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG"),
        *("QAR",),
        *("RON", "RSD", "RUB", "RWF"),
        *("SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN"),
        *("SVC", "SYP", "SZL"),
        *("THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS"),
        *("UAH", "UGX", "USD", "UYU", "UZS"),
        *("VED", "VES", "VND", "VUV"),
        *("WST",),
        *("XAF", "XCD", "XCG", "XOF", "XPF"),
        *("YER",),
        *("ZAR", "ZMW", "ZWG"),
    }
)
