package dev.taskstate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Value;
import dev.taskstate.v1.ErrorReason;
import io.grpc.Status.Code;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ValuesTest {
  private static final long SAFE = (1L << 53) - 1;

  private static Object roundTrip(Object v) {
    return Values.fromValue(Values.toValue(v, "v"));
  }

  @Test
  void safeIntegersRoundTripAsLongs() {
    assertEquals(SAFE, roundTrip(SAFE));
    assertEquals(-SAFE, roundTrip(-SAFE));
    assertEquals(42L, roundTrip(42));
    assertEquals(7L, roundTrip(BigInteger.valueOf(7)));
    assertEquals(3L, roundTrip(3.0), "an integral double comes back as an integer");
    assertEquals(1.5, roundTrip(1.5));
    assertEquals(0.25, roundTrip(new BigDecimal("0.25")));
  }

  @Test
  void integersBeyondTheSafeRangeAreRefusedWithTheirPath() {
    Map<String, Object> vars = new LinkedHashMap<>();
    vars.put("count", SAFE + 2); // 2^53+1
    InvalidArgumentException e =
        assertThrows(InvalidArgumentException.class, () -> Values.toValues(vars, "variables"));
    assertEquals(Code.INVALID_ARGUMENT, e.code());
    assertEquals(ErrorReason.VALUE_NOT_REPRESENTABLE, e.errorReason());
    assertEquals("variables.count", e.metadata().get("path"));
    assertTrue(e.getMessage().contains("variables.count"), e.getMessage());
    assertTrue(e.getMessage().contains("2^53-1"), e.getMessage());
    assertEquals("variables.count", e.fieldViolations().get(0).field());

    assertThrows(InvalidArgumentException.class, () -> Values.toValue(Long.MAX_VALUE, "v"));
    assertThrows(InvalidArgumentException.class, () -> Values.toValue(-SAFE - 1, "v"));
    assertThrows(
        InvalidArgumentException.class,
        () -> Values.toValue(BigInteger.ONE.shiftLeft(64), "v"));
    assertThrows(
        InvalidArgumentException.class, () -> Values.toValue(new BigDecimal("1e400"), "v"));
  }

  @Test
  void nanAndInfinityAreRefused() {
    for (double d : new double[] {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
      InvalidArgumentException e =
          assertThrows(InvalidArgumentException.class, () -> Values.toValue(d, "result"));
      assertEquals("result", e.metadata().get("path"));
    }
    assertThrows(InvalidArgumentException.class, () -> Values.toValue(Float.NaN, "v"));
  }

  @Test
  void nestedPathsNameListIndexesAndKeys() {
    Object result = Map.of("items", List.of(1, 2, Double.NaN));
    InvalidArgumentException e =
        assertThrows(InvalidArgumentException.class, () -> Values.toValue(result, "result"));
    assertEquals("result.items[2]", e.metadata().get("path"));
  }

  @Test
  void jsonTypesConvertBothWays() {
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("s", "x");
    in.put("b", true);
    in.put("n", null);
    in.put("l", Arrays.asList(1, "two", null));
    in.put("arr", new Object[] {1L, 2L});
    in.put("m", Map.of("k", 1.25));
    Object out = roundTrip(in);
    Map<String, Object> want = new LinkedHashMap<>(in);
    want.put("l", Arrays.asList(1L, "two", null));
    want.put("arr", List.of(1L, 2L));
    assertEquals(want, out);
    assertNull(roundTrip(null));
    Value v = Value.newBuilder().setStringValue("as is").build();
    assertEquals(v, Values.toValue(v, "v"), "a Value is sent unchanged");
    assertThrows(IllegalArgumentException.class, () -> Values.toValue(new Object(), "v"));
  }
}
