"""The simulated paper account: cash, positions, margin (Reg T-style) and IB's account values."""

from __future__ import annotations

from dataclasses import dataclass, field

from tws_sim.contracts import SimContract
from tws_sim.market import Market

ACCOUNT_ID = "DU7654321"
STARTING_CASH = 250_000.0


@dataclass(slots=True)
class Position:
    contract: SimContract
    qty: float
    avg_cost: float  # IB convention: per unit × multiplier
    realized: float = 0.0


def commission_for(c: SimContract, qty: float, price: float) -> float:
    """IBKR Pro fixed-rate style: options $0.65/contract, stocks $0.005/share, $1 minimum."""
    qty = abs(qty)
    if c.is_option:
        return round(max(1.0, 0.65 * qty), 2)
    return round(min(max(1.0, 0.005 * qty), 0.01 * qty * price), 2) or 1.0


@dataclass
class Account:
    market: Market
    account_id: str = ACCOUNT_ID
    cash: float = STARTING_CASH
    positions: dict[int, Position] = field(default_factory=dict)
    realized: float = 0.0
    start_net_liq: float = 0.0

    def seed_positions(self) -> None:
        """The fixed starting book other tests rely on: 200 KO and one short AAPL put."""
        m = self.market
        ko = m.by_symbol["KO"]
        self.positions[ko.contract.con_id] = Position(ko.contract, 200, round(ko.price * 0.97, 4))
        from tws_sim.contracts import option_contract

        aapl = m.by_symbol["AAPL"]
        today = m.start_day
        # From the start day, not the running clock: at --speed 864000 building the market
        # takes simulated days, and the starting book must not depend on how long that took.
        monthly = [e for e in m.chains["AAPL"] if e.monthly and e.day > today]
        exp = min(monthly, key=lambda e: abs((e.day - today).days - 30))
        strike = min(exp.strikes, key=lambda k: abs(k - aapl.price * 0.95))
        put = option_contract(aapl, exp, strike, "P")
        quote = m.option_quote(put)
        self.positions[put.con_id] = Position(put, -1, round(quote.model.price * 1.1 * 100, 4))
        self.start_net_liq = self.net_liquidation()

    # --- valuation ----------------------------------------------------------------------

    def mark(self, c: SimContract) -> float:
        """Per-unit mark price: stock last, option mid."""
        if c.is_option:
            if self.market.years_to(c.expiry) <= 0:
                s = self.market.spot(c.symbol)
                return max(0.0, s - c.strike) if c.right == "C" else max(0.0, c.strike - s)
            q = self.market.option_quote(c)
            return round(q.mid, 4)
        return round(self.market.spot(c.symbol), 4)

    def market_value(self, p: Position) -> float:
        return p.qty * self.mark(p.contract) * p.contract.mult

    def stock_value(self) -> float:
        return sum(
            self.market_value(p) for p in self.positions.values() if not p.contract.is_option
        )

    def option_value(self) -> float:
        return sum(self.market_value(p) for p in self.positions.values() if p.contract.is_option)

    def net_liquidation(self) -> float:
        return self.cash + sum(self.market_value(p) for p in self.positions.values())

    def unrealized(self) -> float:
        return sum(self.market_value(p) - p.qty * p.avg_cost for p in self.positions.values())

    def margin(self, positions: dict[int, Position] | None = None) -> tuple[float, float]:
        """(initial, maintenance) requirement: stock 50%/25%; short options Reg T."""
        positions = self.positions if positions is None else positions
        init = maint = 0.0
        shares: dict[str, float] = {}
        for p in positions.values():
            if not p.contract.is_option:
                shares[p.contract.symbol] = shares.get(p.contract.symbol, 0) + p.qty
        for p in positions.values():
            c = p.contract
            if not c.is_option:
                v = abs(p.qty) * self.market.spot(c.symbol)
                init += 0.5 * v
                maint += 0.25 * v
            elif p.qty < 0:
                contracts = -p.qty
                if c.right == "C":
                    covered = min(contracts, max(0.0, shares.get(c.symbol, 0)) // 100)
                    shares[c.symbol] = shares.get(c.symbol, 0) - covered * 100
                    contracts -= covered
                if contracts <= 0:
                    continue
                s = self.market.spot(c.symbol)
                prem = self.mark(c)
                otm = max(0.0, s - c.strike) if c.right == "P" else max(0.0, c.strike - s)
                base = c.strike if c.right == "P" else s
                req = (prem + max(0.2 * s - otm, 0.1 * base)) * 100 * contracts
                init += req
                maint += req
        return round(init, 2), round(maint, 2)

    def values(self) -> list[tuple[str, str, str]]:
        """IB account values (key, value, currency) as updateAccountValue carries them."""
        nl = self.net_liquidation()
        init, maint = self.margin()
        ewl = nl
        avail = ewl - init
        excess = ewl - maint
        stock = self.stock_value()
        opt = self.option_value()
        gross = sum(abs(self.market_value(p)) for p in self.positions.values())
        money = {
            "NetLiquidation": nl,
            "TotalCashValue": self.cash,
            "SettledCash": self.cash,
            "AccruedCash": 0.0,
            "BuyingPower": max(0.0, avail * 4),
            "EquityWithLoanValue": ewl,
            "GrossPositionValue": gross,
            "InitMarginReq": init,
            "MaintMarginReq": maint,
            "FullInitMarginReq": init,
            "FullMaintMarginReq": maint,
            "AvailableFunds": avail,
            "ExcessLiquidity": excess,
            "FullAvailableFunds": avail,
            "FullExcessLiquidity": excess,
            "LookAheadAvailableFunds": avail,
            "LookAheadExcessLiquidity": excess,
            "StockMarketValue": stock,
            "OptionMarketValue": opt,
            "UnrealizedPnL": self.unrealized(),
            "RealizedPnL": self.realized,
            "CashBalance": self.cash,
        }
        out = [
            ("AccountCode", self.account_id, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("AccountReady", "true", ""),
            ("Currency", "USD", "USD"),
            ("DayTradesRemaining", "-1", ""),
            ("Cushion", f"{excess / nl if nl else 0:.6f}", ""),
            ("Leverage-S", f"{gross / nl if nl else 0:.4f}", ""),
        ]
        out += [(k, f"{v:.2f}", "USD") for k, v in money.items()]
        out += [
            ("CashBalance", f"{self.cash:.2f}", "BASE"),
            ("TotalCashBalance", f"{self.cash:.2f}", "BASE"),
            ("NetLiquidationByCurrency", f"{nl:.2f}", "BASE"),
        ]
        return out

    def summary(self, tags: set[str] | None) -> list[tuple[str, str, str]]:
        rows = [(k, v, cur) for k, v, cur in self.values() if cur in ("USD", "")]
        seen: set[str] = set()
        out = []
        for k, v, cur in rows:
            if k in seen or (tags and k not in tags):
                continue
            seen.add(k)
            out.append((k, v, cur))
        return out

    # --- trading -------------------------------------------------------------------------

    def apply_fill(
        self, c: SimContract, side: str, qty: float, price: float, commission: float
    ) -> float:
        """Book a fill; returns the realized P&L of the closing part (0 when opening)."""
        signed = qty if side == "BOT" else -qty
        mult = c.mult
        self.cash -= signed * price * mult + commission
        p = self.positions.get(c.con_id)
        realized = 0.0
        if p is None or p.qty == 0:
            # IB's average cost includes the commission: paid on a long (cost up), deducted
            # from the proceeds on a short (a 2.46 sale with $1 commission: 245, not 247).
            self.positions[c.con_id] = Position(c, signed, price * mult + commission / signed)
            return 0.0
        if (p.qty > 0) == (signed > 0):
            total = p.qty + signed
            p.avg_cost = (p.avg_cost * p.qty + price * mult * signed + commission) / total
            p.qty = total
            return 0.0
        closing = min(abs(signed), abs(p.qty))
        direction = 1 if p.qty > 0 else -1
        realized = (price * mult - p.avg_cost) * closing * direction - commission
        p.qty += signed
        p.realized += realized
        self.realized += realized
        if abs(p.qty) < 1e-9:
            del self.positions[c.con_id]
        elif (p.qty > 0) != (direction > 0):
            p.avg_cost = price * mult
        return round(realized, 2)

    def what_if(self, fills: list[tuple[SimContract, str, float, float]]) -> dict:
        """Margin before / change / after and the summed commission if these (contract, BOT|SLD,
        quantity, price) fills happened now: one fill for an order, one a leg for a combo.
        They are booked and then undone, so a what-if margins by the same rules as a fill."""
        import copy

        init0, maint0 = self.margin()
        ewl0 = self.net_liquidation()
        saved_cash, saved_pos, saved_real = self.cash, copy.deepcopy(self.positions), self.realized
        comm = 0.0
        try:
            for c, side, qty, price in fills:
                fill_comm = commission_for(c, qty, price)
                comm += fill_comm
                self.apply_fill(c, side, qty, price, fill_comm)
            init1, maint1 = self.margin()
            ewl1 = self.net_liquidation()
        finally:
            self.cash, self.positions, self.realized = saved_cash, saved_pos, saved_real
        comm = round(comm, 2)
        return {
            "init_before": f"{init0:.2f}",
            "maint_before": f"{maint0:.2f}",
            "ewl_before": f"{ewl0:.2f}",
            "init_change": f"{init1 - init0:.2f}",
            "maint_change": f"{maint1 - maint0:.2f}",
            "ewl_change": f"{ewl1 - ewl0:.2f}",
            "init_after": f"{init1:.2f}",
            "maint_after": f"{maint1:.2f}",
            "ewl_after": f"{ewl1:.2f}",
            "commission": comm,
            "min_commission": comm,
            "max_commission": comm,
        }

    def describe(self) -> list[dict]:
        return [
            {
                **p.contract.describe(),
                "quantity": p.qty,
                "avg_cost": round(p.avg_cost, 4),
                "market_price": self.mark(p.contract),
                "market_value": round(self.market_value(p), 2),
            }
            for p in self.positions.values()
        ]
