"""The upsert statements both state backends run: SQLite and PostgreSQL write them alike."""

from __future__ import annotations


class PortableUpserts:
    """`INSERT ... ON CONFLICT` statements (`excluded` is both databases' word for the row offered)."""

    @staticmethod
    def add_sql(table: str, keys: tuple[str, ...], counts: tuple[str, ...]) -> str:
        columns = (*keys, *counts)
        added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
        return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}")

    @staticmethod
    def insert_new_sql(table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
        return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                f"ON CONFLICT ({', '.join(keys)}) DO NOTHING")

    @staticmethod
    def put_sql(table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
        others = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {others}")
