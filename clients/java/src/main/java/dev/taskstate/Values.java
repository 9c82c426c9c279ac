package dev.taskstate;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts between plain Java objects and {@code google.protobuf.Value}, the JSON of taskstate.
 *
 * <p>Java side: {@code null}, {@link Boolean}, {@link String}, {@link Number}, {@link Map} with
 * string keys, {@link Iterable} or an array, or a {@link Value} sent as is. Coming back, numbers
 * are {@link Long} when they are integers within the safe range, otherwise {@link Double}; objects
 * are unmodifiable {@link Map}s (insertion-ordered) and arrays unmodifiable {@link List}s.
 *
 * <p>A Value number is an IEEE double, so an integer outside ±(2^53-1) (JavaScript's {@code
 * Number.MAX_SAFE_INTEGER}), NaN and ±Infinity are refused before any call with an {@link
 * InvalidArgumentException} of reason {@code VALUE_NOT_REPRESENTABLE} naming the value's path.
 */
public final class Values {
  /** The largest integer a JSON number carries exactly: 2^53-1. */
  public static final long MAX_SAFE_INTEGER = (1L << 53) - 1;

  static final String RULE =
      "JSON numbers are IEEE doubles: integers must lie within ±(2^53-1) (±9007199254740991),"
          + " and NaN and ±Infinity are not allowed; send such a value as a string";

  private Values() {}

  /**
   * Converts a Java object to a Value; {@code path} names it in errors (e.g. {@code variables.n}).
   *
   * @throws InvalidArgumentException if a number cannot be carried exactly
   * @throws IllegalArgumentException if an object is of no JSON type
   */
  public static Value toValue(Object v, String path) {
    if (v == null) {
      return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    }
    if (v instanceof Value value) {
      return value;
    }
    if (v instanceof Boolean b) {
      return Value.newBuilder().setBoolValue(b).build();
    }
    if (v instanceof CharSequence s) {
      return Value.newBuilder().setStringValue(s.toString()).build();
    }
    if (v instanceof Number n) {
      return Value.newBuilder().setNumberValue(number(n, path)).build();
    }
    if (v instanceof Map<?, ?> m) {
      return Value.newBuilder().setStructValue(struct(m, path)).build();
    }
    if (v instanceof Iterable<?> it) {
      ListValue.Builder l = ListValue.newBuilder();
      int i = 0;
      for (Object item : it) {
        l.addValues(toValue(item, path + "[" + i++ + "]"));
      }
      return Value.newBuilder().setListValue(l).build();
    }
    if (v instanceof Object[] arr) {
      return toValue(java.util.Arrays.asList(arr), path);
    }
    throw new IllegalArgumentException(
        path + ": " + v.getClass().getName() + " is not a JSON value (null, Boolean, String,"
            + " Number, Map, Iterable, array)");
  }

  /** Converts a map of JSON values; each key's path is {@code prefix.key}. */
  public static Map<String, Value> toValues(Map<String, ?> m, String prefix) {
    Map<String, Value> out = new LinkedHashMap<>();
    if (m != null) {
      for (Map.Entry<String, ?> e : m.entrySet()) {
        out.put(e.getKey(), toValue(e.getValue(), prefix + "." + e.getKey()));
      }
    }
    return out;
  }

  private static Struct struct(Map<?, ?> m, String path) {
    Struct.Builder s = Struct.newBuilder();
    for (Map.Entry<?, ?> e : m.entrySet()) {
      if (!(e.getKey() instanceof String key)) {
        throw new IllegalArgumentException(path + ": JSON object keys must be strings");
      }
      s.putFields(key, toValue(e.getValue(), path + "." + key));
    }
    return s.build();
  }

  /** The double for n, refusing what a double cannot carry exactly. */
  static double number(Number n, String path) {
    if (n instanceof Double || n instanceof Float) {
      double d = n.doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        throw notRepresentable(path, d + " is not a finite number");
      }
      return d;
    }
    if (n instanceof BigDecimal bd) {
      if (bd.signum() == 0 || bd.stripTrailingZeros().scale() > 0) {
        double d = bd.doubleValue();
        if (Double.isInfinite(d)) {
          throw notRepresentable(path, bd + " is beyond a double's range");
        }
        return d;
      }
      return integer(bd.toBigIntegerExact(), path);
    }
    if (n instanceof BigInteger bi) {
      return integer(bi, path);
    }
    // Long, Integer, Short, Byte, AtomicLong, ...: an integer.
    return integer(BigInteger.valueOf(n.longValue()), path);
  }

  private static double integer(BigInteger i, String path) {
    if (i.abs().compareTo(BigInteger.valueOf(MAX_SAFE_INTEGER)) > 0) {
      throw notRepresentable(path, "integer " + i + " cannot be sent exactly");
    }
    return i.doubleValue();
  }

  private static InvalidArgumentException notRepresentable(String path, String what) {
    return InvalidArgumentException.notRepresentable(path, path + ": " + what + "; " + RULE, RULE);
  }

  /** Converts a Value to a plain Java object (see the class comment for the types). */
  public static Object fromValue(Value v) {
    switch (v.getKindCase()) {
      case BOOL_VALUE:
        return v.getBoolValue();
      case STRING_VALUE:
        return v.getStringValue();
      case NUMBER_VALUE:
        double d = v.getNumberValue();
        if (d == Math.rint(d) && Math.abs(d) <= MAX_SAFE_INTEGER) {
          return (long) d;
        }
        return d;
      case STRUCT_VALUE:
        return fromValues(v.getStructValue().getFieldsMap());
      case LIST_VALUE:
        List<Object> l = new ArrayList<>();
        for (Value item : v.getListValue().getValuesList()) {
          l.add(fromValue(item));
        }
        return Collections.unmodifiableList(l);
      default: // NULL_VALUE, or unset
        return null;
    }
  }

  /** Converts a map of Values (e.g. a task's variables) to an unmodifiable map. */
  public static Map<String, Object> fromValues(Map<String, Value> m) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, Value> e : m.entrySet()) {
      out.put(e.getKey(), fromValue(e.getValue()));
    }
    return Collections.unmodifiableMap(out);
  }
}
